"""BIMI: the ``default._bimi`` record, DMARC enforcement, and the logo's SVG Tiny PS basics.

The SVG is untrusted input: parsed with defusedxml (no entities, no DTD), bounded in size.
Sans-I/O: :func:`check_bimi` yields the record query and the logo fetch; :func:`svg_problems`
is pure.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from workbench.auth.dmarc import DmarcRecord, organizational_domain
from workbench.auth.findings import Finding, finding
from workbench.auth.sansio import Query, WebGet, WebResponse, lookup

__all__ = ["check_bimi", "svg_problems"]

Gen = Generator[Query | WebGet, Any, Any]
MAX_SVG = 32 * 1024
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"


def svg_problems(data: bytes) -> list[str]:
    """What keeps ``data`` from being an SVG Tiny Portable/Secure logo (empty: none found)."""
    if len(data) > MAX_SVG:
        return [f"{len(data)} bytes, over {MAX_SVG}"]
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        return [f"not well-formed or unsafe XML: {exc}"]
    problems = []
    if root.tag != f"{SVG}svg":
        return ["the root element is not <svg> in the SVG namespace"]
    if root.get("baseProfile") != "tiny-ps":
        problems.append('baseProfile="tiny-ps" is missing')
    if root.get("version") != "1.2":
        problems.append('version="1.2" is missing')
    if root.find(f"{SVG}title") is None:
        problems.append("no <title>")
    if "x" in root.attrib or "y" in root.attrib:
        problems.append("x= or y= on the root element")
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("script", "foreignObject", "image", "animate", "set"):
            problems.append(f"<{tag}> is not allowed")
        href = element.get(XLINK) or element.get("href")
        if href and not href.startswith("#"):
            problems.append(f"external reference {href[:60]}")
    return problems


def _record(name: str) -> Gen:
    status, rdatas = yield from lookup(name, "TXT")
    texts = [b"".join(rd.strings).decode("utf-8", "replace") for rd in rdatas]
    return status, [t for t in texts if t.replace(" ", "").lower().startswith("v=bimi1")]


def check_bimi(domain: str, dmarc: DmarcRecord | None) -> Gen:
    """BIMI findings for ``domain`` (its own record, else its organizational domain's)."""
    subject = f"default._bimi.{domain}"
    _, records = yield from _record(subject)
    org = organizational_domain(domain)
    if not records and org != domain:
        subject = f"default._bimi.{org}"
        _, records = yield from _record(subject)
    example = f'{subject}. IN TXT "v=BIMI1; l=https://{org}/bimi/logo.svg; a=https://{org}/bimi/vmc.pem"'
    if not records:
        return [finding("bimi.missing", domain, f"no BIMI record at {subject}", subject=subject, fix=example)]
    tags = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in records[0].split(";") if p.strip())}
    logo, cert = tags.get("l", ""), tags.get("a", "")
    if len(records) > 1 or tags.get("v") != "BIMI1" or (logo and not logo.startswith("https://")) or \
            (cert and not cert.startswith("https://")):
        return [finding("bimi.syntax", domain, f"{subject}: {records[0]!r}", subject=subject, fix=example)]
    out: list[Finding] = []
    enforced = dmarc is not None and (dmarc.subdomain_policy if org != domain else dmarc.p) in ("quarantine", "reject") \
        and dmarc.pct == 100
    if not enforced:
        out.append(finding("bimi.dmarc_not_enforced", domain, "DMARC is not at quarantine/reject with pct=100",
                           subject=subject, fix=f'_dmarc.{org}. IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{org}"'))
    if not cert:
        out.append(finding("bimi.no_certificate", domain, f"{subject} has no a= (VMC or CMC)", subject=subject,
                           fix="obtain a VMC or CMC and publish its URL in a="))
    if logo:
        response: WebResponse = yield WebGet(logo, max_bytes=MAX_SVG)
        if not response.ok:
            out.append(finding("bimi.svg_unreachable", domain, f"{logo}: {response.error or response.status}", subject=logo))
        else:
            problems = svg_problems(response.body)
            if problems:
                out.append(finding("bimi.svg_invalid", domain, f"{logo}: {'; '.join(problems)}", subject=logo,
                                   fix="export the logo as SVG Tiny PS (square, <title>, no scripts or external links)"))
    if not out:
        out.append(finding("bimi.ok", domain, f"logo {logo}", subject=subject))
    return out
