"""BIMI: the record, DMARC enforcement, and SVG Tiny PS basics of the logo (untrusted XML)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.auth.bimi import check_bimi, svg_problems
from workbench.auth.dmarc import parse_record
from workbench.auth.resolver import RecordsResolver
from workbench.auth.sansio import drive
from workbench.auth.web import OfflineWeb
from workbench.synth.zone import LOGO

NS = 'xmlns="http://www.w3.org/2000/svg"'


def test_the_world_logo_is_valid() -> None:
    assert svg_problems(LOGO) == []


@pytest.mark.parametrize("svg, problem", [
    (f'<svg {NS} version="1.2"><title>x</title></svg>', "baseProfile"),
    (f'<svg {NS} baseProfile="tiny-ps"><title>x</title></svg>', "version"),
    (f'<svg {NS} version="1.2" baseProfile="tiny-ps"></svg>', "no <title>"),
    (f'<svg {NS} version="1.2" baseProfile="tiny-ps" x="0"><title>x</title></svg>', "x= or y="),
    (f'<svg {NS} version="1.2" baseProfile="tiny-ps"><title>x</title><script>alert(1)</script></svg>', "<script>"),
    (f'<svg {NS} xmlns:xlink="http://www.w3.org/1999/xlink" version="1.2" baseProfile="tiny-ps"><title>x</title>'
     '<use xlink:href="https://evil.example/a.svg#x"/></svg>', "external reference"),
    ('<html><title>x</title></html>', "root element"),
    ('<svg', "not well-formed"),
    ('<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg><title>&a;</title></svg>', "unsafe"),
])
def test_svg_problems(svg: str, problem: str) -> None:
    found = svg_problems(svg.encode())
    assert any(problem in p for p in found), found


def test_svg_size_limit() -> None:
    assert "over" in svg_problems(b" " * 40_000)[0]


ZONE = """
default._bimi.example.com. TXT "v=BIMI1; l=https://example.com/logo.svg; a=https://example.com/vmc.pem"
default._bimi.nocert.example. TXT "v=BIMI1; l=https://nocert.example/logo.svg"
default._bimi.bad.example. TXT "v=BIMI1; l=http://bad.example/logo.svg"
"""


@pytest.fixture
def web(tmp_path: Path) -> OfflineWeb:
    for host in ("example.com", "nocert.example"):
        (tmp_path / host).mkdir()
        (tmp_path / host / "logo.svg").write_bytes(LOGO)
    return OfflineWeb(tmp_path)


def codes(findings) -> list[str]:
    return sorted(f.code for f in findings)


def test_check_bimi(web: OfflineWeb) -> None:
    resolver = RecordsResolver.from_text(ZONE)
    enforced = parse_record("v=DMARC1; p=reject")
    assert codes(drive(check_bimi("example.com", enforced), resolver, web)) == ["bimi.ok"]
    assert codes(drive(check_bimi("news.example.com", enforced), resolver, web)) == ["bimi.ok"]  # the org's record
    assert codes(drive(check_bimi("example.com", parse_record("v=DMARC1; p=none")), resolver, web)) == ["bimi.dmarc_not_enforced"]
    assert codes(drive(check_bimi("example.com", parse_record("v=DMARC1; p=reject; pct=50")), resolver, web)) == [
        "bimi.dmarc_not_enforced"]
    assert codes(drive(check_bimi("example.com", None), resolver, web)) == ["bimi.dmarc_not_enforced"]
    assert codes(drive(check_bimi("nocert.example", enforced), resolver, web)) == ["bimi.no_certificate"]
    assert codes(drive(check_bimi("bad.example", enforced), resolver, web)) == ["bimi.syntax"]
    assert codes(drive(check_bimi("none.example", enforced), resolver, web)) == ["bimi.missing"]


def test_check_bimi_unreachable_and_invalid_logo(tmp_path: Path) -> None:
    resolver = RecordsResolver.from_text(ZONE)
    enforced = parse_record("v=DMARC1; p=reject")
    assert codes(drive(check_bimi("example.com", enforced), resolver, OfflineWeb(tmp_path))) == ["bimi.svg_unreachable"]
    (tmp_path / "example.com").mkdir()
    (tmp_path / "example.com" / "logo.svg").write_bytes(f'<svg {NS}><title>x</title></svg>'.encode())
    assert codes(drive(check_bimi("example.com", enforced), resolver, OfflineWeb(tmp_path))) == ["bimi.svg_invalid"]
