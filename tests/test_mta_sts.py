"""MTA-STS and TLS-RPT: policies, MX coverage, the HTTPS fetch (verified, no redirects), records."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.https_server import HttpsServer
from workbench.auth.mta_sts import (
    PolicyError,
    check_mta_sts,
    check_tls_rpt,
    mx_matches,
    parse_policy,
)
from workbench.auth.resolver import RecordsResolver
from workbench.auth.sansio import WebGet, drive
from workbench.auth.web import HttpsFetcher, OfflineWeb

POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.com\r\nmax_age: 604800\r\n"


def test_parse_policy() -> None:
    policy = parse_policy(POLICY.decode())
    assert (policy.mode, policy.max_age, policy.mx) == ("enforce", 604800, ("mx1.example.com", "*.mail.example.com"))
    assert parse_policy("version: STSv1\nmode: none\nmax_age: 0\n").mx == ()


@pytest.mark.parametrize("text, why", [
    ("mode: enforce\nmx: a\nmax_age: 1", "STSv1"),
    ("version: STSv1\nmode: strict\nmx: a\nmax_age: 1", "mode"),
    ("version: STSv1\nmode: enforce\nmx: a\nmax_age: soon", "max_age"),
    ("version: STSv1\nmode: enforce\nmx: a\nmax_age: 99999999", "over"),
    ("version: STSv1\nmode: enforce\nmax_age: 600", "no mx"),
    ("version: STSv1\ngarbage\n", "key: value"),
])
def test_parse_policy_errors(text: str, why: str) -> None:
    with pytest.raises(PolicyError, match=why):
        parse_policy(text)


@pytest.mark.parametrize("pattern, host, expected", [
    ("mx1.example.com", "MX1.example.com.", True),
    ("*.mail.example.com", "a.mail.example.com", True),
    ("*.mail.example.com", "a.b.mail.example.com", False),
    ("*.mail.example.com", "mail.example.com", False),
    ("mx1.example.com", "mx2.example.com", False),
])
def test_mx_matches(pattern: str, host: str, expected: bool) -> None:
    assert mx_matches(pattern, host) is expected


ZONE = """
_mta-sts.example.com. TXT "v=STSv1; id=20260101"
_mta-sts.bad.example. TXT "v=STSv1; id=not-valid!"
_mta-sts.two.example. TXT "v=STSv1; id=1"
_mta-sts.two.example. TXT "v=STSv1; id=2"
_smtp._tls.example.com. TXT "v=TLSRPTv1; rua=mailto:tls@example.com,https://tls.example.com/v1"
_smtp._tls.bad.example. TXT "v=TLSRPTv1; rua=ftp://tls.example"
mta-sts.example.com. A 127.0.0.1
"""


def codes(findings) -> list[str]:
    return sorted(f.code for f in findings)


def offline(tmp_path: Path, body: bytes | None) -> OfflineWeb:
    if body is not None:
        path = tmp_path / "mta-sts.example.com" / ".well-known" / "mta-sts.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return OfflineWeb(tmp_path)


def test_check_mta_sts_offline(tmp_path: Path) -> None:
    resolver = RecordsResolver.from_text(ZONE)
    web = offline(tmp_path, POLICY)
    assert codes(drive(check_mta_sts("example.com", ["mx1.example.com", "in.mail.example.com"]), resolver, web)) == ["mta_sts.ok"]
    uncovered = drive(check_mta_sts("example.com", ["mx9.example.com"]), resolver, web)
    assert codes(uncovered) == ["mta_sts.mx_not_covered"] and "mx: mx9.example.com" in uncovered[0].fix
    assert codes(drive(check_mta_sts("nothing.example", []), resolver, web)) == ["mta_sts.missing"]
    assert codes(drive(check_mta_sts("bad.example", []), resolver, web)) == ["mta_sts.syntax"]
    assert codes(drive(check_mta_sts("two.example", []), resolver, web)) == ["mta_sts.syntax"]
    assert codes(drive(check_mta_sts("example.com", []), resolver, offline(tmp_path / "empty", None))) == [
        "mta_sts.policy_unreachable"]
    testing = offline(tmp_path / "t", b"version: STSv1\nmode: testing\nmx: mx1.example.com\nmax_age: 3600\n")
    assert codes(drive(check_mta_sts("example.com", ["mx1.example.com"]), resolver, testing)) == [
        "mta_sts.short_max_age", "mta_sts.testing"]
    broken = offline(tmp_path / "b", b"version: STSv1\nmode: whatever\n")
    assert codes(drive(check_mta_sts("example.com", []), resolver, broken)) == ["mta_sts.policy_invalid"]


def test_check_tls_rpt() -> None:
    resolver = RecordsResolver.from_text(ZONE)
    assert codes(drive(check_tls_rpt("example.com"), resolver)) == ["tls_rpt.ok"]
    assert codes(drive(check_tls_rpt("bad.example"), resolver)) == ["tls_rpt.syntax"]
    missing = drive(check_tls_rpt("nothing.example"), resolver)
    assert codes(missing) == ["tls_rpt.missing"] and "v=TLSRPTv1; rua=mailto:tls-reports@nothing.example" in missing[0].fix


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory):
    docs = {("mta-sts.example.com", "/.well-known/mta-sts.txt"): ("text/plain", POLICY),
            ("mta-sts.example.com", "/html"): ("text/html", b"<html>policy</html>"),
            ("mta-sts.example.com", "/moved"): ("redirect", b"https://mta-sts.example.com/.well-known/mta-sts.txt"),
            ("mta-sts.example.com", "/big"): ("text/plain", b"x" * 100_000)}
    server = HttpsServer(tmp_path_factory.mktemp("tls"), docs, ["mta-sts.example.com"])
    yield server
    server.stop()


def test_https_fetch_verifies_resolves_and_bounds(https) -> None:
    resolver = RecordsResolver.from_text(ZONE)
    fetcher = HttpsFetcher(resolver, https.ca, https.port, timeout=5)
    ok = fetcher.get(WebGet("https://mta-sts.example.com/.well-known/mta-sts.txt"))
    assert ok.ok and ok.body == POLICY and ok.content_type == "text/plain"
    moved = fetcher.get(WebGet("https://mta-sts.example.com/moved"))
    assert moved.status == 302 and not moved.ok  # RFC 8461: redirects are not followed
    assert "larger than" in (fetcher.get(WebGet("https://mta-sts.example.com/big")).error or "")
    assert fetcher.get(WebGet("http://mta-sts.example.com/")).error == "only https:// URLs are fetched"
    untrusted = HttpsFetcher(resolver, None, https.port, timeout=5).get(WebGet("https://mta-sts.example.com/html"))
    assert untrusted.error is not None and "certificate" in untrusted.error
    unknown = HttpsFetcher(resolver, https.ca, https.port, timeout=5).get(WebGet("https://nowhere.example/x"))
    assert unknown.error is not None and "no A/AAAA" in unknown.error


def test_check_mta_sts_over_https(https) -> None:
    resolver = RecordsResolver.from_text(ZONE)
    fetcher = HttpsFetcher(resolver, https.ca, https.port, timeout=5)
    assert codes(drive(check_mta_sts("example.com", ["mx1.example.com"]), resolver, fetcher)) == ["mta_sts.ok"]
    assert ("mta-sts.example.com", "/.well-known/mta-sts.txt") in https.requests


def test_offline_web_stays_in_its_folder(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("no")
    web = OfflineWeb(tmp_path / "web")
    assert web.get(WebGet("https://x.example/../../secret.txt")).status == 404
