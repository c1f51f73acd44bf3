"""Users' rules for every use: ``$WORKBENCH_BOUNCE_RULES`` names rules files that loading
(bounce mail and send-log texts) and ``workbench classify`` apply, without touching code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli import cli
from workbench.errors import ConfigError
from workbench.feedback.rules import RULES_ENV, default_rules, site_rules
from workbench.store import Store
from workbench.store.loading import load_paths

BOUNCE = """From: MAILER-DAEMON@mx.example-mail.net (Mail Delivery System)
To: newsletter@news.brightmart.example
Subject: Undelivered Mail Returned to Sender
Date: Mon, 23 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="u"

--u
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example-mail.net

Final-Recipient: rfc822; kunde@example-mail.net
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp; 550 Konto gesperrt wegen Inaktivitaet

--u--
"""
RULES = "reasons:\n  suspend:\n    phrases: ['konto gesperrt']\n"


@pytest.fixture
def rules_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "rules" / "ours.yaml"
    path.parent.mkdir()
    path.write_text(RULES)
    monkeypatch.setenv(RULES_ENV, str(path.parent))
    return path


def test_without_the_variable_the_packaged_rules_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RULES_ENV, raising=False)
    assert site_rules() is default_rules()


def test_the_variable_adds_files_and_folders(rules_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = site_rules()
    assert rules.match("suspend", "550 konto gesperrt") == '"konto gesperrt"'
    assert str(rules_file) in rules.sources
    assert site_rules() is rules  # loaded once per value
    other = tmp_path / "other.yaml"
    other.write_text("reasons:\n  mailboxfull:\n    phrases: ['postfach voll']\n")
    monkeypatch.setenv(RULES_ENV, os.pathsep.join([str(rules_file), str(other)]))
    both = site_rules()
    assert both.match("mailboxfull", "postfach voll") and both.match("suspend", "konto gesperrt")


def test_a_missing_rules_file_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RULES_ENV, str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="cannot read rules file"):
        site_rules()


def test_loading_bounce_mail_uses_the_users_rules(rules_file: Path, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bounce.eml"
    path.write_text(BOUNCE)
    load_paths(store, [path])
    assert store.query("SELECT reason, rule FROM bounces").row(0) == ("suspend", 'text:suspend "konto gesperrt"')


def test_loading_send_logs_uses_the_users_rules(rules_file: Path, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps({"ts": "2026-11-23T10:00:00Z", "event_type": "bounced", "recipient": "k@example-mail.net",
                                "event_id": "x1", "smtp_code": 550, "diagnostic": "550 Konto gesperrt"}) + "\n")
    load_paths(store, [path])
    assert store.scalar("SELECT bounce_reason FROM events") == "suspend"
    assert store.scalar("SELECT rule FROM bounce_texts") == 'text:suspend "konto gesperrt"'


def test_classify_uses_the_variable_and_adds_rules_files(rules_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "bounce.eml"
    path.write_text(BOUNCE)
    result = CliRunner().invoke(cli, ["classify", str(path), "--jsonl"], obj={}, env={RULES_ENV: str(rules_file)})
    assert json.loads(result.stdout)["reason"] == "suspend"
    extra = tmp_path / "extra.yaml"
    extra.write_text("reasons:\n  onhold:\n    phrases: ['inaktivitaet']\n")
    result = CliRunner().invoke(cli, ["classify", str(path), "--jsonl", "--rules", str(extra)], obj={},
                                env={RULES_ENV: str(rules_file)})
    assert json.loads(result.stdout)["reason"] == "suspend"  # the variable's file still applies
