"""Each kind of feedback mail the synthetic world writes, rendered from one event row, reads
back as what it stands for (decoder, recipient, reason, origin, signed trace)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from workbench.feedback import parse_message
from workbench.feedback.trace import parse_trace, parse_verp
from workbench.sources.mailbox import iter_messages
from workbench.synth.feedback import DEMO_TRACE_KEY, render, write_mbox

BASE = {
    "msgno": 4242, "campaign_id": "news-20261110", "contact_id": "C0004242", "stream": "newsletter",
    "sending_domain": "news.brightmart.example", "sending_ip": "192.0.2.11",
    "message_id": "news-20261110.4242@news.brightmart.example",
    "inject": datetime(2026, 11, 10, 9, 0), "ts": datetime(2026, 11, 10, 12, 30),
}


def row(**kw: object) -> dict[str, object]:
    return {**BASE, **kw}


def read(r: dict[str, object]) -> object:
    return parse_message(render(r, "Your November picks", DEMO_TRACE_KEY).encode())


@pytest.mark.parametrize(
    ("provider", "recipient", "fmt", "redacted"),
    [("microsoft", "lea@outlook.com", "jmrp", False), ("yahoo", "tom@yahoo.com", "arf", True),
     ("orange", "zoe@orange.fr", "arf", False), ("comcast", "sam@comcast.net", "arf", False)],
)
def test_complaints(provider: str, recipient: str, fmt: str, redacted: bool) -> None:
    report = read(row(event_type="complained", provider=provider, recipient=recipient))
    assert report.kind == "complaint"  # type: ignore[attr-defined]
    (c,) = report.complaints  # type: ignore[attr-defined]
    assert (c.format, c.feedback_type, c.source_ip, c.recipient_redacted) == (fmt, "abuse", "192.0.2.11", redacted)
    if not redacted:
        assert c.recipient == recipient
    origin = report.origin  # type: ignore[attr-defined]
    assert origin.message_id == BASE["message_id"]
    assert (origin.campaign_id, origin.contact_id) == ("news-20261110", "C0004242")
    trace = parse_trace(origin.trace, key=DEMO_TRACE_KEY)
    assert trace is not None and trace.valid


def test_apple_unsubscribe_names_campaign_and_contact_by_its_address() -> None:
    report = read(row(event_type="unsubscribed", provider="apple", recipient="amy@icloud.com"))
    (c,) = report.complaints  # type: ignore[attr-defined]
    assert (c.format, c.feedback_type, c.recipient) == ("apple-unsubscribe", "opt-out", "amy@icloud.com")
    assert (report.origin.campaign_id, report.origin.contact_id, report.origin.trace_valid) == (  # type: ignore[attr-defined]
        "news-20261110", "C0004242", None)


@pytest.mark.parametrize(
    ("provider", "recipient", "agent"),
    [("orange", "zoe@orange.fr", "postfix"), ("yahoo", "tom@yahoo.com", "postfix"), ("gmx", "jan@gmx.de", "exim"),
     ("comcast", "sam@comcast.net", "exim"), ("other", "kim@initech.example", "exim")],
)
def test_full_mailboxes(provider: str, recipient: str, agent: str) -> None:
    report = read(row(event_type="bounced", provider=provider, recipient=recipient, bounce_class="soft"))
    assert report.agent == agent  # type: ignore[attr-defined]
    (b,) = report.bounces  # type: ignore[attr-defined]
    assert (b.recipient, b.reason, b.hard) == (recipient, "mailboxfull", False)
    assert report.origin.message_id == BASE["message_id"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("recipient", "status", "reporter"),
    [("max@contoso.example", "5.1.10", "outlook.com"), ("eva@northwind.example", "5.1.1", "google.com")],
)
def test_removed_addresses_at_companies(recipient: str, status: str, reporter: str) -> None:
    raw = render(row(event_type="bounced", provider="microsoft", recipient=recipient, bounce_class="hard"),
                 "Your November picks", DEMO_TRACE_KEY)
    report = parse_message(raw.encode())
    (b,) = report.bounces
    assert (b.recipient, b.reason, b.hard, b.status) == (recipient, "userunknown", True, status)
    assert reporter in (b.reporting_mta or "")
    to = next(line for line in raw.splitlines() if line.startswith("To: "))[4:]
    verp = parse_verp(to, key=DEMO_TRACE_KEY)
    assert verp is not None and verp.valid and verp.contact_id == "C0004242"


def test_out_of_office() -> None:
    report = read(row(event_type="autoreply", provider="microsoft", recipient="max@contoso.example"))
    assert report.kind == "autoreply"  # type: ignore[attr-defined]
    assert [b.reason for b in report.bounces] == ["vacation"]  # type: ignore[attr-defined]


def test_write_mbox_quotes_from_lines_and_reads_back(tmp_path: Path) -> None:
    rows = pl.DataFrame([
        row(event_type="complained", provider="orange", recipient="zoe@orange.fr", bounce_class=None),
        row(event_type="bounced", provider="gmx", recipient="jan@gmx.de", bounce_class="soft", msgno=7),
    ])
    calendar = pl.DataFrame({"campaign_id": ["news-20261110"], "subject": ["From the shop: November picks"]})
    path = tmp_path / "mail" / "feedback.mbox"
    assert write_mbox(path, rows, calendar) == 2
    text = path.read_text()
    assert text.startswith("From MAILER-DAEMON Tue Nov 10 12:30:00 2026\n")
    items = list(iter_messages(path))
    assert len(items) == 2
    kinds = [parse_message(i.data).kind for i in items]
    assert kinds == ["complaint", "bounce"]
    assert b"Subject: FW: From the shop: November picks" in items[0].data


def test_split_is_deterministic_and_depends_on_the_seed() -> None:
    from conftest import WORLD_END

    from workbench.synth import World, simulate
    from workbench.synth.feedback import split

    _, _, msgs, evs, _ = simulate(20_000, seed=3, end=WORLD_END)
    a = split(World(), msgs, evs, 3)[1]
    b = split(World(), msgs, evs, 3)[1]
    c = split(World(), msgs, evs, 4)[1]
    assert a.equals(b)
    assert not a.equals(c) or len(a) == 0


def test_every_mailed_event_renders(tmp_path: Path) -> None:
    from conftest import WORLD_END

    from workbench.synth import World, simulate
    from workbench.synth.feedback import split

    _, calendar, msgs, evs, _ = simulate(60_000, seed=7, end=WORLD_END)
    _, mailed = split(World(), msgs, evs, 7)
    count = write_mbox(tmp_path / "m.mbox", mailed, calendar)
    assert count == len(mailed) > 0
    kinds = [parse_message(i.data).kind for i in iter_messages(tmp_path / "m.mbox")]
    assert "none" not in kinds and len(kinds) == count
