"""Loading bounce and complaint mail into the store: tables, events, idempotency, linking to
the sends, trace validation, and what is not feedback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES

from workbench.sources.feedback import frames, sniff
from workbench.store import Store
from workbench.store.loading import load_paths

BOUNCES = FIXTURES / "bounces"
EML = sorted(BOUNCES.glob("*.eml"))
#: recipients of the fixtures that are bounces (not auto-replies) and complaints / unsubscribes
EXPECTED = [json.loads(line) for line in (BOUNCES / "expected.jsonl").read_text().splitlines() if line.strip()]
N_BOUNCES = sum(1 for e in EXPECTED if e["reason"] not in (None, "feedback", "vacation"))
N_COMPLAINTS = sum(1 for e in EXPECTED if e["reason"] == "feedback")


def copy_fixtures(target: Path, names: list[str] | None = None) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for path in EML:
        if names is None or path.name in names:
            out.append(Path(shutil.copy(path, target / path.name)))
    return out


def sends_file(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# --- sniffing --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", EML, ids=lambda p: p.name)
def test_every_fixture_is_sniffed(path: Path) -> None:
    assert sniff(path.read_bytes()[:65536], path)


def test_sniff_leaves_dmarc_reports_and_non_mail_alone(tmp_path: Path) -> None:
    dmarc = (b"From: noreply-dmarc-support@google.com\nTo: dmarc@brightmart.example\n"
             b"Subject: Report domain: brightmart.example Submitter: google.com Report-ID: <123>\n"
             b"Content-Type: application/zip\n\nUEsDBBQ=\n")
    assert not sniff(dmarc, tmp_path / "dmarc.eml")
    assert not sniff(b"ts,event_type,recipient\n2026-11-01,bounced,a@b\n", tmp_path / "x.csv")
    assert not sniff(b'{"notificationType": "Bounce"}', tmp_path / "x.json")
    mbox = b"From MAILER-DAEMON Thu Nov  5 10:00:00 2026\n" + EML[0].read_bytes()
    assert sniff(mbox, tmp_path / "box.mbox")
    # ordinary mail is taken (and reported as neither bounce nor complaint when loaded)
    assert sniff((BOUNCES / "not-a-bounce.eml").read_bytes(), BOUNCES / "not-a-bounce.eml")


# --- loading ---------------------------------------------------------------------------------------

def test_fixtures_load_into_bounces_complaints_and_events(store: Store, tmp_path: Path) -> None:
    files = copy_fixtures(tmp_path / "mail")
    summary = load_paths(store, files)
    assert {f.format for f in summary.files} == {"feedback-mail"}
    assert store.scalar("SELECT count(*) FROM bounces") == N_BOUNCES
    assert store.scalar("SELECT count(*) FROM complaints") == N_COMPLAINTS
    events = dict(store.query("SELECT event_type, count(*) FROM events GROUP BY 1").iter_rows())
    # one delayed bounce (Yahoo's deferral) is a deferral; opt-outs are unsubscribes
    assert events == {"bounced": N_BOUNCES - 1, "deferred": 1, "complained": N_COMPLAINTS - 1, "unsubscribed": 1}
    assert store.scalar("SELECT count(*) FROM events WHERE source <> 'feedback-mail'") == 0
    # the non-feedback message is reported, not loaded
    rows = store.query("SELECT file, reason, error FROM quarantine").rows()
    assert [(Path(f).name, r, e) for f, r, e in rows] == [
        ("not-a-bounce.eml", "1 message(s) were neither a bounce nor a complaint; left alone", "Skipped")]


def test_bounce_rows_keep_the_full_detail(store: Store, tmp_path: Path) -> None:
    load_paths(store, copy_fixtures(tmp_path / "mail", ["postfix-userunknown.eml"]))
    row = store.query("SELECT * FROM bounces").row(0, named=True)
    assert row["recipient"] == "nobody.here@example.org" and row["recipient_domain"] == "example.org"
    assert (row["reason"], row["hard"], row["bounce_class"], row["status"], row["reply_code"]) == (
        "userunknown", True, "hard", "5.1.1", 550)
    assert (row["rule"], row["smtp_command"], row["agent"]) == ("status:5.1.1", "RCPT", "postfix")
    assert row["message_id"] == "news-20261103.42@news.brightmart.example"
    assert row["campaign_id"] == "news-20261103" and row["contact_id"] == "C0000042"
    assert row["feedback_id"] == "news-20261103:newsletter:brightmart:bm1"
    assert str(row["received_at"]) == "2026-11-03 10:15:02"
    assert row["source_file"].endswith("postfix-userunknown.eml") and len(row["message_sha256"]) == 64
    ev = store.query("SELECT * FROM events").row(0, named=True)
    assert (ev["event_type"], ev["bounce_class"], ev["bounce_reason"], ev["enhanced_status"], ev["smtp_code"]) == (
        "bounced", "hard", "userunknown", "5.1.1", 550)
    assert ev["recipient"] == "nobody.here@example.org" and ev["source"] == "feedback-mail"


def test_reloading_and_renamed_copies_change_nothing(store: Store, tmp_path: Path) -> None:
    files = copy_fixtures(tmp_path / "a")
    load_paths(store, files)
    counts = [store.scalar(f"SELECT count(*) FROM {t}") for t in ("bounces", "complaints", "events")]
    again = load_paths(store, files)
    assert {f.status for f in again.files} == {"skipped"}
    renamed = copy_fixtures(tmp_path / "b")
    for path in renamed:
        path.rename(path.with_name("copy-" + path.name))
    load_paths(store, [tmp_path / "b"])
    assert [store.scalar(f"SELECT count(*) FROM {t}") for t in ("bounces", "complaints", "events")] == counts


def test_an_mbox_loads_the_same_rows_as_the_files(store: Store, tmp_path: Path) -> None:
    box = tmp_path / "fbl.mbox"
    box.write_bytes(b"".join(b"From MAILER-DAEMON Thu Nov  5 10:00:00 2026\n" + p.read_bytes() + b"\n" for p in EML))
    load_paths(store, [box])
    assert store.scalar("SELECT count(*) FROM bounces") == N_BOUNCES
    assert store.scalar("SELECT count(*) FROM complaints") == N_COMPLAINTS
    keys = set(store.query("SELECT bounce_key FROM bounces")["bounce_key"].to_list())
    load_paths(store, copy_fixtures(tmp_path / "files"))
    assert set(store.query("SELECT bounce_key FROM bounces")["bounce_key"].to_list()) == keys


def test_a_maildir_loads(store: Store, tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for n, path in enumerate(EML):
        (maildir / "new" / f"17000000{n:02d}.M1P1.host").write_bytes(path.read_bytes())
    load_paths(store, [maildir])
    assert store.scalar("SELECT count(*) FROM bounces") == N_BOUNCES


# --- linking ---------------------------------------------------------------------------------------

SENDS = [
    {"ts": "2026-11-03T10:15:00Z", "event_type": "injected", "message_id": "news-20261103.42@news.brightmart.example",
     "campaign_id": "news-20261103", "contact_id": "C0000042", "recipient": "nobody.here@example.org",
     "sending_domain": "news.brightmart.example", "event_id": "s-1"},
    {"ts": "2026-11-03T10:15:01Z", "event_type": "deferred", "message_id": "news-20261103.42@news.brightmart.example",
     "campaign_id": "news-20261103", "recipient": "nobody.here@example.org", "sending_ip": "198.51.100.21",
     "event_id": "s-2"},
    {"ts": "2026-11-16T08:59:00Z", "event_type": "injected", "message_id": "news-20261116.31@news.brightmart.example",
     "campaign_id": "news-20261116", "contact_id": "C0000031", "recipient": "yreader@yahoo.com",
     "sending_domain": "news.brightmart.example", "sending_ip": "198.51.100.22", "event_id": "s-3"},
    {"ts": "2026-11-04T06:59:00Z", "event_type": "injected", "message_id": "other-id@news.brightmart.example",
     "campaign_id": "news-20261104", "contact_id": "C0000099", "recipient": "full.box@example.net",
     "sending_domain": "news.brightmart.example", "sending_ip": "198.51.100.20", "event_id": "s-4"},
]


def test_bounces_and_complaints_link_to_their_sends(store: Store, tmp_path: Path) -> None:
    load_paths(store, [sends_file(tmp_path / "sends.jsonl", SENDS)])
    load_paths(store, copy_fixtures(tmp_path / "mail", ["postfix-userunknown.eml", "arf-yahoo-redacted.eml",
                                                         "postfix-mailboxfull.eml", "qmail-userunknown.eml"]))
    bounces = {r["recipient"]: r for r in store.query("SELECT * FROM bounces").iter_rows(named=True)}
    linked = bounces["nobody.here@example.org"]
    assert (linked["link_method"], linked["linked"], linked["sending_ip"]) == ("message_id", True, "198.51.100.21")
    # a Message-ID we never sent: the recipient's latest send before the bounce (the bounce
    # keeps the Message-ID it returned)
    full = bounces["full.box@example.net"]
    assert (full["link_method"], full["contact_id"], full["sending_ip"]) == ("recipient", "C0000099", "198.51.100.20")
    assert full["message_id"] == "news-20261104.7@news.brightmart.example"
    assert bounces["ghost@example.jp"]["linked"] is False
    (complaint,) = store.query("SELECT * FROM complaints").iter_rows(named=True)
    # Yahoo redacted the recipient: the Message-ID finds the send, and the send the recipient
    assert complaint["recipient_redacted"] and complaint["link_method"] == "message_id"
    assert (complaint["recipient"], complaint["contact_id"], complaint["sending_ip"]) == (
        "yreader@yahoo.com", "C0000031", "198.51.100.22")
    ev = store.query("SELECT * FROM events WHERE event_type = 'complained'").row(0, named=True)
    assert (ev["recipient"], ev["contact_id"], ev["campaign_id"], ev["mailbox_provider"]) == (
        "yreader@yahoo.com", "C0000031", "news-20261116", "yahoo")


def test_mail_loaded_before_its_send_logs_links_later(store: Store, tmp_path: Path) -> None:
    load_paths(store, copy_fixtures(tmp_path / "mail", ["postfix-userunknown.eml"]))
    assert store.scalar("SELECT linked FROM bounces") is False
    load_paths(store, [sends_file(tmp_path / "sends.jsonl", SENDS)])
    assert store.query("SELECT link_method, linked, sending_ip FROM bounces").row(0) == ("message_id", True, "198.51.100.21")
    assert store.scalar("SELECT sending_ip FROM events WHERE source = 'feedback-mail'") == "198.51.100.21"


def test_trace_signatures_are_checked_with_the_configured_key(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.feedback.trace import trace_header

    raw = (BOUNCES / "office365-userunknown.eml").read_text()
    good = raw.replace("X-Workbench-Trace: v=1; c=news-20261109; r=C0000077; l=newsletter",
                       "X-Workbench-Trace: " + trace_header("news-20261109", "C0000077", "newsletter", key=b"k1"))
    forged = good.replace("jan@contoso.example", "eve@contoso.example").replace("r=C0000077", "r=C0000078")
    (tmp_path / "good.eml").write_text(good)
    (tmp_path / "forged.eml").write_text(forged)
    monkeypatch.setenv("WORKBENCH_TRACE_KEY", "k1")
    load_paths(store, [tmp_path / "good.eml", tmp_path / "forged.eml"])
    valid = dict(store.query("SELECT recipient, trace_valid FROM bounces").iter_rows())
    assert valid == {"jan@contoso.example": True, "eve@contoso.example": False}


def test_frames_skip_autoreplies_and_classify_blocks() -> None:
    from workbench.feedback import parse_message

    report = parse_message((BOUNCES / "autoreply-vacation.eml").read_bytes())
    assert frames(report, "sha", "f", None) == ([], [])
    blocked = parse_message((BOUNCES / "gmail-blocked.eml").read_bytes())
    (row,), _ = frames(blocked, "sha", "f", None)
    assert (row["bounce_class"], row["hard"], row["reason"]) == ("block", False, "spamdetected")


def test_an_oversized_message_in_an_mbox_is_quarantined(store: Store, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.sources import mailbox

    monkeypatch.setattr(mailbox, "MAX_MESSAGE", 20_000)
    box = tmp_path / "big.mbox"
    body = EML[0].read_bytes()
    huge = body.replace(b"\n\n", b"\n\n" + (b"x" * 1000 + b"\n") * 30, 1)
    box.write_bytes(b"From a@b Thu Nov  5 10:00:00 2026\n" + body + b"\nFrom a@b Thu Nov  5 10:00:00 2026\n" + huge + b"\n")
    load_paths(store, [box])
    rows = store.query("SELECT position, reason, error FROM quarantine").rows()
    assert rows == [(f"{box}#2", "message larger than 20000 bytes; skipped", "UnsafeInput")]
    assert store.scalar("SELECT count(*) FROM complaints") == 1  # the first message still loads


# --- edges -------------------------------------------------------------------------------------------

def test_without_a_trace_key_signatures_are_not_checked(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_TRACE_KEY", raising=False)
    load_paths(store, copy_fixtures(tmp_path / "mail", ["office365-userunknown.eml"]))
    assert store.query("SELECT trace, trace_valid FROM bounces").row(0) == (
        "v=1; c=news-20261109; r=C0000077; l=newsletter", None)


def test_a_message_without_a_date_takes_the_load_time(store: Store, tmp_path: Path) -> None:
    raw = (BOUNCES / "qmail-userunknown.eml").read_text().replace("Date: 8 Nov 2026 10:00:00 -0000\n", "")
    path = tmp_path / "nodate.eml"
    path.write_text(raw)
    load_paths(store, [path])
    received = store.scalar("SELECT received_at FROM bounces")
    assert received is not None and received.year >= 2026
    assert store.scalar("SELECT count(*) FROM events WHERE event_type = 'bounced'") == 1


def test_complaint_and_opt_out_events(store: Store, tmp_path: Path) -> None:
    load_paths(store, copy_fixtures(tmp_path / "mail", ["amazonses-sns-complaint.eml", "apple-unsubscribe.eml",
                                                         "arf-abuse.eml"]))
    rows = store.query("SELECT event_type, recipient, sending_ip, user_agent FROM events ORDER BY recipient").rows()
    assert rows == [
        ("complained", "angry@example.com", None, "Yahoo!-Mail-Feedback/2.0"),
        ("complained", "annoyed@example.net", "198.51.100.21", "ExampleFBL/1.0"),
        ("unsubscribed", "reader@icloud.com", None, None),
    ]
    formats = dict(store.query("SELECT recipient, format FROM complaints").iter_rows())
    assert formats == {"angry@example.com": "amazonses", "annoyed@example.net": "arf", "reader@icloud.com": "apple-unsubscribe"}


def test_a_deferral_warning_is_a_deferred_event(store: Store, tmp_path: Path) -> None:
    load_paths(store, copy_fixtures(tmp_path / "mail", ["yahoo-deferred.eml"]))
    row = store.query("SELECT event_type, bounce_class, bounce_reason, smtp_code FROM events").row(0)
    assert row == ("deferred", "block", "badreputation", 421)
    assert store.scalar("SELECT count(*) FROM suppressions") == 0


def test_feedback_events_get_the_provider_of_the_recipient(store: Store, tmp_path: Path) -> None:
    load_paths(store, copy_fixtures(tmp_path / "mail", ["gmail-blocked.eml", "jmrp-outlook.eml"]))
    providers = dict(store.query("SELECT recipient, mailbox_provider FROM events").iter_rows())
    assert providers == {"reader@gmail.com": "gmail", "reader@outlook.com": "microsoft"}


@pytest.mark.parametrize(
    ("reason", "hard", "klass"),
    [("userunknown", True, "hard"), ("hostunknown", True, "hard"), ("mailboxfull", False, "soft"),
     ("expired", False, "soft"), ("suspend", False, "soft"), ("blocked", False, "block"),
     ("spamdetected", False, "block"), ("authfailure", False, "block"), ("badreputation", False, "block"),
     ("speeding", False, "block"), ("onhold", False, "undetermined"), ("undefined", False, "undetermined"),
     ("notaccept", True, "hard"), ("notaccept", False, "soft")],
)
def test_bounce_class_of_a_reason(reason: str, hard: bool, klass: str) -> None:
    from workbench.sources.feedback import bounce_class

    assert bounce_class(reason, hard) == klass


def test_the_format_is_registered_after_the_report_mail_format() -> None:
    from workbench.sources.registry import FORMATS

    names = [f.name for f in FORMATS]
    assert "feedback-mail" in names and names.index("report-mail") < names.index("feedback-mail")
