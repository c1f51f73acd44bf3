"""DMARC and TLS-RPT analytics over the synthetic world, and the rate definitions."""

from __future__ import annotations

from datetime import date, timedelta
from importlib import resources

import polars as pl
import pytest

from workbench import dmarc
from workbench.dmarc.analytics import READY_AT, pass_rate, readiness
from workbench.store import Store, load_sql
from workbench.synth.dmarc import FORWARDER_IPS, SPOOF_IPS


@pytest.mark.parametrize(("passed", "total", "rate"), [(5, 10, 0.5), (0, 10, 0.0), (3, 0, None), (None, 4, 0.0), (1, None, None)])
def test_pass_rate(passed: float | None, total: float | None, rate: float | None) -> None:
    assert pass_rate(passed, total) == rate


def test_readiness() -> None:
    assert readiness(98, 100) == 0.98 >= READY_AT
    assert readiness(0, 0) is None


@pytest.fixture
def window(dmarc_world_store: Store) -> tuple[date, date]:
    return dmarc.default_window(dmarc_world_store, 90)


def test_default_window_ends_with_the_last_report(dmarc_world_store: Store) -> None:
    start, end = dmarc.default_window(dmarc_world_store, 30)
    assert end == dmarc_world_store.scalar("SELECT max(CAST(begin_ts AS DATE)) FROM dmarc_reports")
    assert end - start == timedelta(days=29)


def test_every_query_runs_on_an_empty_store(store: Store) -> None:
    names = [p.name.removesuffix(".sql") for p in resources.files("workbench").joinpath("sql").iterdir()
             if p.name.startswith(("dmarc_", "tlsrpt_"))]
    assert len(names) >= 10
    params = {"start": date(2026, 1, 1), "end": date(2026, 12, 31), "domain": None, "limit": 5}
    for name in names:
        sql = load_sql(name)
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        assert store.query(sql, used).is_empty(), name


def test_pass_rate_by_day(dmarc_world_store: Store, window: tuple[date, date]) -> None:
    daily = dmarc.pass_rate_by_day(dmarc_world_store, *window)
    tx = daily.filter(pl.col("header_from") == "tx.brightmart.example")
    assert tx["pass_rate"].min() == 1.0
    notify = daily.filter(pl.col("header_from") == "notify.brightmart.example")
    assert notify.filter(pl.col("pass_rate") < 1)["day"].n_unique() == 3
    org = dmarc.pass_rate_by_day(dmarc_world_store, *window, "brightmart.example", by="header_from_org")
    assert org["header_from_org"].unique().to_list() == ["brightmart.example"]
    assert int(org["messages"].sum()) == int(daily["messages"].sum())
    assert dmarc.pass_rate_by_day(dmarc_world_store, *window, "other.example").is_empty()


def test_sources_and_unknown_senders(dmarc_world_store: Store, window: tuple[date, date]) -> None:
    src = dmarc.sources(dmarc_world_store, *window)
    kinds = dict(src.select("source_ip", "source_kind").rows())
    assert kinds["192.0.2.10"] == "ours" and kinds[SPOOF_IPS[0]] == "unknown"
    unknown = dmarc.unknown_senders(dmarc_world_store, *window, limit=10)
    assert set(unknown["source_ip"]) == set(SPOOF_IPS) | set(FORWARDER_IPS)
    spoof = unknown.filter(pl.col("source_ip").is_in(list(SPOOF_IPS)))
    assert spoof["pass_rate"].max() == 0.0
    assert unknown.filter(pl.col("source_ip").is_in(list(FORWARDER_IPS)))["pass_rate"].min() > 0.9
    assert unknown["messages"].is_sorted(descending=True)
    assert len(dmarc.unknown_senders(dmarc_world_store, *window, limit=1)) == 1


def test_alignment_failures(dmarc_world_store: Store, window: tuple[date, date]) -> None:
    align = dmarc.alignment_failures(dmarc_world_store, *window)
    esp_spf = align.filter((pl.col("method") == "spf") & (pl.col("source_kind") == "ours"))
    # SendGrid and SES mail: SPF passes for the ESP's return path, not ours
    assert set(esp_spf["failure"]) == {"unaligned"}
    assert set(esp_spf["header_from"]) == {"contact.brightmart.example", "notify.brightmart.example"}
    dkim = align.filter((pl.col("method") == "dkim") & (pl.col("source_kind") == "ours"))
    assert dkim.rows() and set(dkim["failure"]) == {"fail"} and set(dkim["header_from"]) == {"notify.brightmart.example"}
    spoof_dkim = align.filter((pl.col("method") == "dkim") & (pl.col("source_kind") == "unknown"))
    assert "none" in set(spoof_dkim["failure"])


def test_forwarded(dmarc_world_store: Store, window: tuple[date, date]) -> None:
    fwd = dmarc.forwarded(dmarc_world_store, *window)
    assert set(fwd["how"]) >= {"forwarded", "dkim survived"}
    assert fwd["messages"].sum() > 0


def test_policy_readiness(dmarc_world_store: Store, window: tuple[date, date]) -> None:
    ready = {r["header_from"]: r for r in dmarc.policy_readiness(dmarc_world_store, *window).to_dicts()}
    assert ready["notify.brightmart.example"]["verdict"] == "not ready: own mail fails"
    assert ready["notify.brightmart.example"]["ours_failing"] > 0
    for domain in ("news.brightmart.example", "tx.brightmart.example", "contact.brightmart.example"):
        assert ready[domain]["verdict"] == "ready" and ready[domain]["ours_failing"] == 0
    root = ready["brightmart.example"]
    assert root["verdict"] == "no own mail seen" and root["others_failing"] == root["messages"] > 0
    assert ready["news.brightmart.example"]["others_failing"] > 0  # the spoofer uses news. too
    assert all(r["p"] == "none" for r in ready.values())


def test_tls_analytics(dmarc_world_store: Store, window: tuple[date, date]) -> None:
    by_mx = dmarc.tls_failures_by_mx(dmarc_world_store, *window)
    assert by_mx.select("mx", "result_type", "reports").rows() == [("mx1.brightmart.example", "certificate-expired", 2)]
    sessions = dmarc.tls_sessions(dmarc_world_store, *window)
    assert len(sessions) == 90 and sessions.filter(pl.col("failure_rate") > 0).height == 2


def test_weekly_pass_rate_sums_the_days(dmarc_world_store: Store, window: tuple[date, date]) -> None:
    daily = dmarc.pass_rate_by_day(dmarc_world_store, *window)
    weekly = dmarc.pass_rate_by_day(dmarc_world_store, *window, period="1w")
    assert int(weekly["messages"].sum()) == int(daily["messages"].sum())
    assert weekly["day"].n_unique() < daily["day"].n_unique() / 5
    assert all(d.weekday() == 0 for d in weekly["day"].to_list())  # weeks start on Monday
