"""Send-log failure texts refined by the bounce rule tables after every load."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from workbench.sources.bounce_texts import classify_texts
from workbench.store import Store
from workbench.store.loading import load_paths


def texts(*rows: tuple[str, str | None, int | None, str, str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"text_key": str(n), "diagnostic": d, "enhanced_status": s, "smtp_code": c, "recipient_domain": dom,
          "mailbox_provider": mp} for n, (d, s, c, dom, mp) in enumerate(rows)],
        schema={"text_key": pl.Utf8, "diagnostic": pl.Utf8, "enhanced_status": pl.Utf8, "smtp_code": pl.Int16,
                "recipient_domain": pl.Utf8, "mailbox_provider": pl.Utf8},
    )


def test_classify_texts_uses_the_rule_tables() -> None:
    out = classify_texts(texts(
        ("550 5.1.1 <a@b>: Recipient address rejected: User unknown", "5.1.1", 550, "example.org", None),
        ("452 4.2.2 The email account that you tried to reach is over quota", "4.2.2", 452, "gmail.com", "gmail"),
        ("421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints",
         "4.7.0", 421, "yahoo.com", "yahoo"),
        ("something no rule knows", None, None, "example.org", None),
    ))
    assert out.select("reason", "hard", "bounce_class").rows() == [
        ("userunknown", True, "hard"), ("mailboxfull", False, "soft"), ("badreputation", False, "block"),
        ("onhold", False, "undetermined")]
    assert out["rule"].to_list()[0] == "status:5.1.1"
    assert "mailbox_provider" not in out.columns


def test_a_workspace_domain_gets_its_providers_rules() -> None:
    text = ("550-5.7.1 [198.51.100.20] Gmail has detected that this message is likely unsolicited mail.", "5.7.1", 550)
    unknown, hosted = classify_texts(texts((*text, "northwind.example", None), (*text, "northwind.example", "gmail"))).rows(
        named=True)
    assert unknown["reason"] == "securityerror"  # the generic rules only see a 5.7.1
    assert (hosted["reason"], hosted["rule"]) == ("spamdetected", 'provider:google "likely unsolicited mail"')


def test_loading_refines_send_log_events_once(store: Store, tmp_path: Path) -> None:
    rows = [
        {"ts": "2026-11-03T10:00:00Z", "event_type": "bounced", "recipient": f"r{n}@example.org", "event_id": f"b{n}",
         "enhanced_status": "5.0.0", "smtp_code": 550, "diagnostic": "550 5.1.1 <r@example.org>: user unknown"}
        for n in range(3)
    ] + [{"ts": "2026-11-03T10:00:00Z", "event_type": "bounced", "recipient": "s@example.org", "event_id": "s1",
          "enhanced_status": "5.7.1", "smtp_code": 554,
          "diagnostic": "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org"},
         {"ts": "2026-11-03T10:00:00Z", "event_type": "deferred", "recipient": "z@example.org", "event_id": "d1",
          "enhanced_status": "4.0.0", "smtp_code": 421, "diagnostic": "421 4.4.2 Connection timed out"},
         {"ts": "2026-11-03T10:00:00Z", "event_type": "bounced", "recipient": "y@example.org", "event_id": "u1",
          "enhanced_status": "5.0.0", "smtp_code": 554, "diagnostic": "554 a text nobody has classified"}]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    load_paths(store, [path])
    assert store.scalar("SELECT count(*) FROM bounce_texts") == 4  # one per distinct text
    got = dict(store.query("SELECT recipient, bounce_reason FROM events").iter_rows())
    assert got["r0@example.org"] == "userunknown" and got["z@example.org"] == "expired"
    # the first pass called a block-list refusal spam; the rule tables know better
    assert got["s@example.org"] == "blocked"
    assert store.scalar("SELECT bounce_class FROM events WHERE recipient = 's@example.org'") == "block"
    # a text no rule knows keeps the send log's own classification
    first_pass = store.scalar("SELECT reason FROM bounce_texts WHERE diagnostic LIKE '554 a text%'")
    assert first_pass == "onhold" and got["y@example.org"] == "undefined"
    # ... but an unexplained 5xx is not taken as a bad address
    assert store.scalar("SELECT bounce_class FROM events WHERE recipient = 'y@example.org'") == "undetermined"
    # hard bounces from send logs suppress, like those from mail
    assert store.scalar("SELECT count(*) FROM active_suppressions WHERE reason = 'hard-bounce'") == 3
    before = store.query("SELECT * FROM bounce_texts ORDER BY text_key")
    (tmp_path / "more.jsonl").write_text(json.dumps({**rows[0], "event_id": "b9", "recipient": "q@example.org"}) + "\n")
    load_paths(store, [tmp_path / "more.jsonl"])
    assert store.query("SELECT * FROM bounce_texts ORDER BY text_key").equals(before)
    assert store.scalar("SELECT bounce_reason FROM events WHERE recipient = 'q@example.org'") == "userunknown"


def test_bounce_mail_events_are_not_reclassified(store: Store, tmp_path: Path) -> None:
    from conftest import FIXTURES

    load_paths(store, [FIXTURES / "bounces" / "gmail-blocked.eml"])
    assert store.scalar("SELECT count(*) FROM bounce_texts") == 0
    assert store.scalar("SELECT bounce_reason FROM events") == "spamdetected"
