"""Send configuration: defaults, the YAML file, overrides; campaigns resolved from the store."""

from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.sending import Relay, SendConfig, relay_from, resolve_campaign
from workbench.sending.campaign import register_campaign


def test_relay_specs():
    assert relay_from("mx.example:587") == Relay(host="mx.example", port=587)
    assert relay_from("[::1]:25").host == "::1"
    assert relay_from({"host": "r", "port": 2525, "starttls": True}).starttls is True
    for bad in ("nohost", "h:port", {"host": "r", "password": "x"}, {"hostname": "r"}):
        with pytest.raises(ConfigError):
            relay_from(bad)


def test_defaults_and_file(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_TRACE_KEY", "trace")
    monkeypatch.setenv("WORKBENCH_TRACKING_KEY", "track")
    default = SendConfig.load(settings)
    assert default.relay == Relay() and default.trace_key == b"trace" and default.tracking_url is None
    assert default.keys_dir == settings.data_dir / "keys" and default.spool_dir == settings.data_dir / "tracking" / "spool"
    path = tmp_path / "sending.yaml"
    path.write_text(
        "relay: {host: 10.0.0.5, port: 587, starttls: true, username: apikey}\n"
        "pools: {shared-sendgrid: smtp.sendgrid.example:2525}\n"
        "bind: {192.0.2.10: 127.0.0.10}\n"
        "shaping: {gmail: {per_minute: 600}}\n"
        "warmup: [100, 200]\n"
        "tracking_url: https://t.example\n"
        "retries: {max_attempts: 3, base_seconds: 30}\n", encoding="utf-8")
    cfg = SendConfig.load(settings, path, workers=2)
    assert cfg.relay == Relay(host="10.0.0.5", port=587, starttls=True, username="apikey")
    assert cfg.relay_for("shared-sendgrid") == Relay(host="smtp.sendgrid.example", port=2525)
    assert cfg.relay_for("dedicated") == cfg.relay and cfg.bind == {"192.0.2.10": "127.0.0.10"}
    assert cfg.shaping.rule("gmail").per_minute == 600 and cfg.warmup.caps == (100, 200)
    assert (cfg.max_attempts, cfg.retry_base, cfg.workers) == (3, 30.0, 2)
    assert cfg.tracking_url == "https://t.example" and cfg.tracking_keys == (b"track",)
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        SendConfig.load(settings, path)
    path.write_text("warmup: [a]\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        SendConfig.load(settings, path)


def test_campaigns_resolve_from_the_store(send_store):
    known = send_store.query("SELECT campaign_id FROM campaigns WHERE stream = 'newsletter' LIMIT 1")["campaign_id"][0]
    campaign = resolve_campaign(send_store, known, template="newsletter")
    assert campaign.sending_domain == "news.brightmart.example" and campaign.ip_pool == "dedicated"
    assert campaign.list_name == "newsletter" and campaign.selectors == ("bm2026",) and not campaign.transactional
    assert campaign.from_addr == "news@news.brightmart.example" and campaign.company == "brightmart"
    tx = resolve_campaign(send_store, "tx-new", template="password-reset", stream="transactional")
    assert tx.sending_domain == "tx.brightmart.example" and tx.transactional and tx.list_name is None
    dual = resolve_campaign(send_store, "news-x", template="t", stream="newsletter", selectors=("bm2026", "ed1"))
    assert dual.selectors == ("bm2026", "ed1")
    with pytest.raises(ConfigError, match="not in the store: give its stream"):
        resolve_campaign(send_store, "mystery", template="t")
    with pytest.raises(ConfigError, match="not one of our sending domains"):
        resolve_campaign(send_store, "x", template="t", stream="newsletter", sending_domain="evil.example")


def test_register_campaign_adds_once(send_store):
    from datetime import datetime

    campaign = resolve_campaign(send_store, "news-new", template="newsletter", stream="newsletter")
    register_campaign(send_store, campaign, "Subject", datetime(2026, 11, 27))
    register_campaign(send_store, campaign, "Other", datetime(2026, 11, 28))
    row = send_store.query("SELECT * FROM campaigns WHERE campaign_id = 'news-new'")
    assert len(row) == 1 and row["subject"][0] == "Subject" and row["stream"][0] == "newsletter"
