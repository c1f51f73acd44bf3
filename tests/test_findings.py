"""Findings: stable codes with severities, and the recorded answers the pure audit replays."""

from __future__ import annotations

import dns.name
import dns.resolver
import pytest

from workbench.auth.answers import Answers
from workbench.auth.findings import CHECKS, CODES, SEVERITIES, Finding, finding, worst
from workbench.auth.resolver import RecordsResolver
from workbench.auth.sansio import Query, WebGet, WebResponse, drive, lookup
from workbench.errors import AuthAuditError


def test_every_code_is_well_formed() -> None:
    for code, (severity, meaning) in CODES.items():
        check, _, name = code.partition(".")
        assert check in CHECKS and name and severity in SEVERITIES and meaning
    for check in CHECKS:
        assert f"{check}.ok" in CODES


def test_finding_takes_its_severity_from_the_code() -> None:
    f = finding("spf.too_many_lookups", "example.com", "12 > 10", "flatten", "example.com")
    assert (f.severity, f.check) == ("error", "spf")
    assert f.as_dict()["check"] == "spf"
    assert finding("mx.missing", "example.com").detail == CODES["mx.missing"][1]
    with pytest.raises(KeyError):
        finding("spf.no_such_code", "example.com")
    assert worst([]) == "ok"
    assert worst([finding("mx.ok", "a"), finding("mta_sts.missing", "a"), finding("dkim.short_key", "a")]) == "warning"
    assert isinstance(f, Finding)


def test_answers_record_and_replay() -> None:
    resolver = RecordsResolver.from_text('a.example. TXT "hello" "world"\nb.example. A 192.0.2.1\n')
    answers = Answers("test")

    def steps():
        first = yield from lookup("a.example", "TXT")
        second = yield from lookup("nothere.example", "A")
        third = yield from lookup("b.example", "AAAA")
        response = yield WebGet("https://a.example/x")
        return first[0], second[0], third[0], response.status

    class Web:
        def get(self, request):
            return WebResponse(request.url, 200, "text/plain", b"body")

    assert drive(steps(), resolver, Web(), answers.record) == ("ok", "nxdomain", "noanswer", 200)
    assert drive(steps(), answers, answers) == ("ok", "nxdomain", "noanswer", 200)
    rows = {(r["qname"], r["rdtype"]): r for r in answers.rows()}
    assert rows[("a.example", "TXT")] == {"qname": "a.example", "rdtype": "TXT", "status": "ok", "records": ['"hello" "world"']}
    assert rows[("nothere.example", "A")]["status"] == "nxdomain" and rows[("b.example", "AAAA")]["status"] == "noanswer"
    assert rows[("https://a.example/x", "HTTPS")]["records"] == ["body"]
    with pytest.raises(AuthAuditError, match="not fetched"):
        answers.resolve("c.example", "TXT")
    with pytest.raises(AuthAuditError, match="not fetched"):
        answers.get(WebGet("https://other.example/"))
    with pytest.raises(dns.resolver.NXDOMAIN):
        answers.resolve("nothere.example", "A")
    merged = Answers()
    merged.merge(answers)
    assert len(merged) == len(answers) == 4


def test_drive_needs_a_web_fetcher_for_web_steps() -> None:
    def steps():
        yield WebGet("https://a.example/")

    with pytest.raises(AuthAuditError, match="no web fetcher"):
        drive(steps(), RecordsResolver())
    assert isinstance(Query(dns.name.from_text("a.example."), "TXT"), Query)


def test_lookup_of_a_bad_name_is_an_error() -> None:
    assert drive(lookup("a" * 64 + ".example", "TXT"), RecordsResolver()) == ("error", [])
