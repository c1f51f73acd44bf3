"""The sending and tracking commands: send (dry run and for real, with the embedded sink),
send-one, ledger, template, sink, track ingest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from tests.sending_helpers import maildir_messages
from workbench.cli import cli
from workbench.store import Store


@pytest.fixture
def invoke(send_store: Store, small_world: Path):
    settings = send_store.settings
    send_store.close()
    env = {"WORKBENCH_ROOT": str(ROOT), "WORKBENCH_DATA": str(settings.data_dir), "WORKBENCH_RAW": str(small_world),
           "WORKBENCH_DB": str(settings.db_path), "WORKBENCH_TRACKING_KEY": "k", "WORKBENCH_TRACE_KEY": "t"}

    def run(*args: str, code: int = 0, output: bool = False) -> str:
        result = CliRunner().invoke(cli, list(args), obj={}, env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output if output else result.stdout

    run.settings = settings  # type: ignore[attr-defined]
    return run


def test_dry_run_shows_the_plan_and_sends_nothing(invoke):
    out = json.loads(invoke("send", "news-cli", "--segment", "newsletter", "--template", "newsletter", "--stream",
                            "newsletter", "--limit", "25", "--dry-run", "--json"))
    assert out["planned"] == 25 and out["suppressed"] == 0 and out["ip_pool"] == "dedicated"
    assert out["sending_domain"] == "news.brightmart.example" and out["template_warnings"] == []
    gmail = next(t for t in out["throttles"] if t["mailbox_provider"] == "gmail")
    assert gmail["connections"] == 5 and gmail["per_connection"] == 50
    text = invoke("send", "news-cli", "--segment", "newsletter", "--template", "newsletter", "--stream", "newsletter",
                  "--limit", "5", "--dry-run")
    assert "dry run: nothing sent" in text
    store = Store(invoke.settings)
    assert store.scalar("SELECT count(*) FROM send_ledger") == 0
    store.close()


def test_send_to_the_embedded_sink_then_ledger(invoke):
    out = json.loads(invoke("send", "news-cli", "--segment", "newsletter", "--template", "newsletter", "--stream",
                            "newsletter", "--limit", "12", "--sink", "--tracking-url", "https://t.example",
                            "--bind", "192.0.2.10=127.0.0.10", "--bind", "192.0.2.11=127.0.0.11", "--json"))
    assert out["sent"] == 12 and out["not_sent"] == 0 and out["messages_per_second"] > 0
    messages = maildir_messages(invoke.settings.data_dir / "sink" / "Maildir")
    assert len(messages) == 12 and all(b"https://t.example/u/" in m for m in messages)
    ledger = json.loads(invoke("ledger", "news-cli", "--json"))
    assert sum(r["messages"] for r in ledger if r["status"] == "sent") == 12
    again = json.loads(invoke("send", "news-cli", "--segment", "newsletter", "--template", "newsletter", "--stream",
                              "newsletter", "--limit", "12", "--sink", "--json"))
    assert again["sent"] == 0  # nothing twice
    table = invoke("ledger", "news-cli")
    assert "mailbox_provider" in table and "sent" in table


def test_a_relay_that_is_down_exits_3_and_keeps_the_messages(invoke, tmp_path):
    (tmp_path / "s.yaml").write_text("retries: {max_attempts: 2, base_seconds: 3600}\n", encoding="utf-8")
    out = json.loads(invoke("send", "news-down", "--segment", "newsletter", "--template", "newsletter", "--stream",
                            "newsletter", "--limit", "3", "--relay", "127.0.0.1:9", "--config", str(tmp_path / "s.yaml"),
                            "--json", code=3))
    assert out["sent"] == 0 and out["deferred"] == 3 and out["not_sent"] == 3


def test_errors_say_what_to_do(invoke):
    text = invoke("send", "mystery", "--segment", "all", "--template", "newsletter", code=1, output=True)
    assert "give its stream and sending domain" in text
    text = invoke("send", "news-x", "--segment", "all", "--template", "nope", "--stream", "newsletter", code=1, output=True)
    assert "no template 'nope'" in text


def test_send_one(invoke):
    out = json.loads(invoke("send-one", "--template", "password-reset", "--to", "ana@example.com", "--var",
                            "reset_url=https://www.brightmart.example/r/1", "--key", "k1", "--sink", "--json"))
    assert out["status"] == "sent" and out["smtp_code"] == 250
    again = invoke("send-one", "--template", "password-reset", "--to", "ana@example.com", "--var",
                   "reset_url=https://www.brightmart.example/r/1", "--key", "k1", "--sink")
    assert again.startswith("duplicate")
    assert len(maildir_messages(invoke.settings.data_dir / "sink" / "Maildir")) == 1


def test_template_list_and_preview(invoke):
    assert {"newsletter", "password-reset"} <= set(invoke("template", "list").split())
    text = invoke("template", "preview", "newsletter", "--var", "first_name=Zoé", "--var", "city=Lille")
    assert "Hello Zoé" in text and "Lille" in text
    subject = invoke("template", "preview", "newsletter", "--part", "subject")
    assert subject.strip() == "there, this week's picks"


def test_track_ingest_loads_the_spool(invoke):
    from datetime import datetime

    from workbench.tracking.spool import Spool

    spool = Spool(invoke.settings.data_dir / "tracking" / "spool")
    spool.append({"ts": datetime(2026, 11, 27, 10), "event_type": "opened", "event_id": "o1", "message_id": "<m@x>",
                  "campaign_id": "c", "contact_id": "C1", "is_machine": False})
    spool.close()
    assert json.loads(invoke("track", "ingest", "--json")) == {"loaded": 1}
    assert json.loads(invoke("track", "ingest", "--json")) == {"loaded": 0}


def test_help_pages(invoke):
    for command in (["send"], ["send-one"], ["ledger"], ["template"], ["sink"], ["track", "serve"], ["track", "ingest"]):
        assert "--help" in invoke(*command, "--help") or "Usage" in invoke(*command, "--help")
