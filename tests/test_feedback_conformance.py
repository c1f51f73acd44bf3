"""Conformance on the shared corpus: the bounce corpus against its expected.jsonl (reason and
hard/soft per recipient, with the confusion table printed), every complaint of the ARF
corpus, and the RFC examples against their expected JSON. Skipped, with the reason, when
``../shared`` is absent (a user's clone)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import require_corpus

from workbench.feedback import parse_message
from workbench.feedback.arf_report import parse_feedback_report
from workbench.sources.mailbox import iter_messages

#: reason agreement asked by the issue (Sisimai 5.1 itself: 97.0 %)
REASON_TARGET = 0.97
#: hard / soft agreement asked by the issue (Sisimai 5.1 itself: 98.6 %)
HARD_TARGET = 0.99


def records(path: Path) -> list[tuple[str, bool | None, str | None, str | None]]:
    """``(reason, hard, status, reply code)`` per recipient, bounces and complaints in order."""
    out: list[tuple[str, bool | None, str | None, str | None]] = []
    for item in iter_messages(path):
        report = parse_message(item.data)
        out += [(b.reason, b.hard, b.status, str(b.reply_code) if b.reply_code else None) for b in report.bounces]
        out += [("feedback", False, None, None) for _ in report.complaints]
    return out


def confusion_table(pairs: Counter[tuple[str, str]]) -> str:
    """The confusion table, one row per expected reason: how many, how many we agree on, and
    what we said instead (sparse: 30-odd reasons do not fit a square table)."""
    expected = sorted({e for e, _ in pairs})
    width = max(len(r) for r in [*expected, "expected"]) + 2
    rows = ["expected".ljust(width) + "    n  agree  ours instead"]
    for e in expected:
        total = sum(n for (x, _), n in pairs.items() if x == e)
        others = sorted(((g, n) for (x, g), n in pairs.items() if x == e and g != e), key=lambda t: (-t[1], t[0]))
        rows.append(e.ljust(width) + f"{total:5d}  {pairs[(e, e)]:5d}  " + ", ".join(f"{g} {n}" for g, n in others))
    return "\n".join(rows)


@pytest.fixture(scope="module")
def bounce_results() -> dict[str, Any]:
    base = require_corpus("bounces")
    expected = [json.loads(line) for line in (base / "expected.jsonl").read_text().splitlines() if line.strip()]
    got = {name: records(base / name) for name in sorted({e["file"] for e in expected})}
    pairs: Counter[tuple[str, str]] = Counter()
    reason_ok = hard_ok = status_ok = 0
    misses = []
    for e in expected:
        rows = got[e["file"]]
        mine = rows[e["index"] - 1] if len(rows) >= e["index"] else None
        reason = mine[0] if mine else "(none)"
        pairs[(e["reason"], reason)] += 1
        reason_ok += reason == e["reason"]
        hard_ok += bool(mine) and mine[1] == e["hardbounce"]
        status_ok += bool(mine) and (mine[2] or "") == (e["deliverystatus"] or "")
        if reason != e["reason"]:
            misses.append(f"{e['file']}#{e['index']}: expected {e['reason']}, got {reason}")
    return {"expected": expected, "pairs": pairs, "reason": reason_ok / len(expected), "hard": hard_ok / len(expected),
            "status": status_ok / len(expected), "misses": misses}


def test_bounce_corpus_reason_and_hard_soft_agreement(bounce_results: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    r = bounce_results
    with capsys.disabled():
        print(f"\n\nbounce corpus: {len(r['expected'])} recipients; reason agreement {r['reason']:.1%} "
              f"(target {REASON_TARGET:.0%}), hard/soft {r['hard']:.1%} (target {HARD_TARGET:.0%}), "
              f"D.S.N. {r['status']:.1%}")
        print(confusion_table(r["pairs"]))
        print("misses:\n  " + "\n  ".join(r["misses"]) + "\n")
    assert r["reason"] >= REASON_TARGET, r["misses"]
    assert r["hard"] >= HARD_TARGET


def test_bounce_corpus_status_codes_mostly_agree(bounce_results: dict[str, Any]) -> None:
    # the D.S.N. is not a target of the issue (Sisimai leaves it empty where the bounce gives
    # none; we keep what the text says): a guard against regressions, measured at 79 %
    assert bounce_results["status"] >= 0.75


def test_every_corpus_file_yields_its_recipients() -> None:
    base = require_corpus("bounces")
    expected = Counter(json.loads(line)["file"] for line in (base / "expected.jsonl").read_text().splitlines() if line)
    short = {name: (n, len(records(base / name))) for name, n in expected.items() if len(records(base / name)) < n}
    # one known case: rfc3464-01 names two recipients of which Sisimai v5 reports the second twice
    assert len(short) <= 1, short


def test_confusion_table_layout() -> None:
    table = confusion_table(Counter({("userunknown", "userunknown"): 3, ("userunknown", "filtered"): 1,
                                     ("userunknown", "onhold"): 2, ("expired", "expired"): 2}))
    lines = table.splitlines()
    assert lines[0].split() == ["expected", "n", "agree", "ours", "instead"]
    assert lines[1].split() == ["expired", "2", "2"]
    assert lines[2].split() == ["userunknown", "6", "3", "onhold", "2,", "filtered", "1"]


# --- complaints -----------------------------------------------------------------------------------

def arf_files() -> list[Path]:
    base = require_corpus("arf")
    return sorted(base.rglob("*.eml"))


def test_every_complaint_in_the_arf_corpus_is_decoded() -> None:
    base = require_corpus("arf")
    manifest = {line.split("\t")[0]: line.split("\t") for line in (base / "MANIFEST.tsv").read_text().splitlines()[1:] if line}
    seen = 0
    for path in arf_files():
        report = parse_message(path.read_bytes())
        name = path.relative_to(base).as_posix()
        assert report.kind == "complaint", name
        assert report.complaints, name
        for c in report.complaints:
            seen += 1
            assert c.feedback_type in ("abuse", "fraud", "virus", "other", "not-spam", "auth-failure", "opt-out"), name
            assert c.provider, name
            if c.format != "apple-unsubscribe":
                assert c.source_ip, name
            if not c.recipient_redacted:
                assert c.recipient and "@" in c.recipient, name
        assert name in manifest
    assert seen >= 25


@pytest.mark.parametrize(
    ("name", "feedback_type", "fmt", "provider", "recipients"),
    [
        ("sisimai/arf-02.eml", "abuse", "arf", "yahoo", 1),
        ("sisimai/arf-16.eml", "abuse", "arf", "validity", 7),
        ("sisimai/arf-17.eml", "abuse", "arf", "abusix", 2),
        ("sisimai/arf-19.eml", "auth-failure", "arf", "netease", 1),
        ("sisimai/arf-22.eml", "abuse", "jmrp", "microsoft", 1),
        ("sisimai/arf-23.eml", "abuse", "jmrp", "microsoft", 1),
        ("sisimai/arf-24.eml", "abuse", "jmrp", "microsoft", 1),
        ("sisimai/arf-25.eml", "abuse", "arf", "rackspace", 1),
        ("sisimai/arf-26.eml", "opt-out", "apple-unsubscribe", "apple", 1),
    ],
)
def test_named_complaints(name: str, feedback_type: str, fmt: str, provider: str, recipients: int) -> None:
    report = parse_message((require_corpus("arf") / name).read_bytes())
    assert len(report.complaints) == recipients
    assert {(c.feedback_type, c.format, c.provider) for c in report.complaints} == {(feedback_type, fmt, provider)}


def test_hashed_and_redacted_recipients_are_flagged() -> None:
    base = require_corpus("arf")
    hashed = parse_message((base / "sisimai/arf-25.eml").read_bytes()).complaints[0]
    assert hashed.recipient_redacted
    jmrp = parse_message((base / "sisimai/arf-22.eml").read_bytes()).complaints[0]
    assert not jmrp.recipient_redacted and jmrp.recipient == "kijitora@example.com"


def test_draft_era_version_and_received_date() -> None:
    report = parse_feedback_report((require_corpus("arf") / "rfc-examples/003.eml").read_bytes())
    assert report is not None and report.arrival_date == 1271272531


def normal(value: Any) -> Any:
    """Enumerations compared case- and dash-insensitively; 'Unspecified' is absent."""
    if isinstance(value, str):
        lowered = value.lower().replace("-", "").replace("_", "")
        return None if lowered == "unspecified" else lowered
    if isinstance(value, list):
        return [normal(v) for v in value]
    return value


@pytest.mark.parametrize("number", ["001", "002", "003", "004", "005"])
def test_rfc_examples_match_their_expected_json(number: str) -> None:
    base = require_corpus("arf", "rfc-examples")
    expected = json.loads((base / f"{number}.json").read_text())
    report = parse_feedback_report((base / f"{number}.eml").read_bytes())
    assert report is not None
    got = {
        "feedback_type": report.feedback_type, "arrival_date": report.arrival_date,
        "authentication_results": report.authentication_results, "incidents": report.incidents,
        "original_envelope_id": report.original_envelope_id, "original_mail_from": report.original_mail_from,
        "original_rcpt_to": report.original_rcpt_to[0] if report.original_rcpt_to else None,
        "reported_domain": report.reported_domain, "reported_uri": report.reported_uri,
        "reporting_mta": report.reporting_mta, "source_ip": report.source_ip, "user_agent": report.user_agent,
        "version": report.version, "source_port": report.source_port, "auth_failure": report.auth_failure,
        "delivery_result": report.delivery_result, "dkim_adsp_dns": report.dkim_adsp_dns,
        "dkim_canonicalized_body": report.dkim_canonicalized_body,
        "dkim_canonicalized_header": report.dkim_canonicalized_header, "dkim_domain": report.dkim_domain,
        "dkim_identity": report.dkim_identity, "dkim_selector": report.dkim_selector,
        "dkim_selector_dns": report.dkim_selector_dns, "spf_dns": report.spf_dns,
        "identity_alignment": report.identity_alignment, "headers": report.headers,
    }
    for key, want in expected.items():
        if key == "message":
            continue
        assert normal(got[key]) == normal(want), key
