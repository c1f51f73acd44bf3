"""DMARC (RFC 7489 and DMARCbis): records, discovery, report authorization, alignment.

- :func:`parse_record`: the tags of a ``v=DMARC1`` record (``p sp np psd t adkim aspf rua ruf
  fo``, and the removed ``pct rf ri`` kept but flagged), pure.
- :func:`organizational_domain`: the registrable domain from the Public Suffix List (RFC 7489).
- :func:`discover`: the DMARCbis DNS tree walk (``_dmarc.<domain>``, then each parent, at
  most 8 labels), sans-I/O.
- :func:`check_dmarc`: the findings for a sending domain (with its return-path and DKIM
  signing domains for alignment), sans-I/O.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from workbench.auth.findings import Finding, finding
from workbench.auth.sansio import Query, WebGet, lookup

__all__ = ["DmarcRecord", "DmarcSyntaxError", "aligned", "check_dmarc", "discover", "organizational_domain", "parse_record"]

Gen = Generator[Query | WebGet, Any, Any]
KNOWN = {"v", "p", "sp", "np", "psd", "t", "adkim", "aspf", "rua", "ruf", "fo", "pct", "rf", "ri"}
REMOVED = ("pct", "rf", "ri")
POLICIES = ("none", "quarantine", "reject")
MAX_WALK = 8


class DmarcSyntaxError(ValueError):
    """A record receivers ignore."""


@dataclass(frozen=True)
class DmarcRecord:
    """A parsed DMARC record; missing tags take their defaults."""

    text: str
    tags: dict[str, str] = field(default_factory=dict)
    p: str = "none"
    sp: str | None = None
    np: str | None = None
    adkim: str = "r"
    aspf: str = "r"
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    pct: int = 100
    testing: bool = False
    psd: str = "u"

    @property
    def subdomain_policy(self) -> str:
        return self.sp or self.p

    def unknown_tags(self) -> list[str]:
        return [t for t in self.tags if t not in KNOWN]


def parse_record(text: str) -> DmarcRecord:
    """Parse a DMARC record.

    Raises
    ------
    DmarcSyntaxError
        Not ``v=DMARC1`` first, a malformed tag, or an invalid ``p``/``sp``/``np``/``adkim``/``aspf``/``pct``.
    """
    tags: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise DmarcSyntaxError(f"{part!r} is not a tag=value pair")
        tags.setdefault(name.strip().lower(), value.strip())
    if next(iter(tags), None) != "v" or tags["v"] != "DMARC1":
        raise DmarcSyntaxError("a DMARC record starts with v=DMARC1")
    p = tags.get("p", "").lower()
    if p not in POLICIES:
        if "rua" not in tags or p:
            raise DmarcSyntaxError(f"p={tags.get('p', '')!r}: p= must be none, quarantine or reject")
        p = "none"  # RFC 7489 §6.6.3: a record with rua and no p is treated as p=none
    for tag in ("sp", "np"):
        if tag in tags and tags[tag].lower() not in POLICIES:
            raise DmarcSyntaxError(f"{tag}={tags[tag]!r} must be none, quarantine or reject")
    for tag in ("adkim", "aspf"):
        if tag in tags and tags[tag].lower() not in ("r", "s"):
            raise DmarcSyntaxError(f"{tag}={tags[tag]!r} must be r or s")
    try:
        pct = int(tags.get("pct", "100"))
    except ValueError as exc:
        raise DmarcSyntaxError(f"pct={tags['pct']!r} is not a number") from exc
    if not 0 <= pct <= 100:
        raise DmarcSyntaxError(f"pct={pct} is not between 0 and 100")

    def uris(tag: str) -> tuple[str, ...]:
        return tuple(u.strip() for u in tags.get(tag, "").split(",") if u.strip())

    return DmarcRecord(text, tags, p, tags["sp"].lower() if "sp" in tags else None,
                       tags["np"].lower() if "np" in tags else None, tags.get("adkim", "r").lower(),
                       tags.get("aspf", "r").lower(), uris("rua"), uris("ruf"), pct,
                       tags.get("t", "n").lower() == "y", tags.get("psd", "u").lower())


@lru_cache(maxsize=1)
def _psl() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """The organizational domain (RFC 7489 §3.2: one label below the public suffix)."""
    domain = domain.lower().rstrip(".")
    return str(_psl().privatesuffix(domain) or domain)


def aligned(a: str, b: str, mode: str) -> bool:
    """Whether two domains are aligned: equal (``s``), or the same organizational domain (``r``)."""
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b if mode == "s" else organizational_domain(a) == organizational_domain(b)


def _records(name: str) -> Gen:
    status, rdatas = yield from lookup(f"_dmarc.{name}", "TXT")
    texts = [b"".join(rd.strings).decode("utf-8", "replace") for rd in rdatas]
    return status, [t for t in texts if t.lower().startswith("v=dmarc1")]


def discover(domain: str) -> Gen:
    """The DMARCbis tree walk: returns ``(policy domain or None, records found, status)``."""
    labels = domain.lower().rstrip(".").split(".")
    status, records = yield from _records(domain)
    if records or status in ("timeout", "error"):
        return domain, records, status
    start = labels[-(MAX_WALK - 1):] if len(labels) > MAX_WALK else labels[1:]
    while len(start) >= 2:
        name = ".".join(start)
        status, records = yield from _records(name)
        if records or status in ("timeout", "error"):
            return name, records, status
        start = start[1:]
    return None, [], "none"


def _mailto(uri: str) -> str | None:
    if not uri.lower().startswith("mailto:"):
        return None
    address = uri[7:].split("!", 1)[0]
    return address if "@" in address else None


def check_dmarc(domain: str, *, envelope_domain: str | None = None, dkim_domain: str | None = None) -> Gen:
    """The DMARC findings for ``domain`` (sans-I/O). Returns ``(findings, record or None)``."""
    out: list[Finding] = []
    org = organizational_domain(domain)
    suggested = f'_dmarc.{org}. IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{org}; adkim=r; aspf=r"'
    where, records, status = yield from discover(domain)
    if status in ("timeout", "error"):
        return [finding("dmarc.dns_error", domain, f"TXT _dmarc.{where}: DNS {status}", subject=f"_dmarc.{where}")], None
    if not records:
        return [finding("dmarc.missing", domain, f"no DMARC record at _dmarc.{domain} or any parent", fix=suggested,
                        subject=f"_dmarc.{domain}")], None
    subject = f"_dmarc.{where}"
    if len(records) > 1:
        return [finding("dmarc.multiple_records", domain, f"{len(records)} records at {subject}", subject=subject,
                        fix="keep one record")], None
    try:
        record = parse_record(records[0])
    except DmarcSyntaxError as exc:
        return [finding("dmarc.syntax", domain, f"{subject}: {exc}", subject=subject, fix=suggested)], None
    inherited = where != domain
    if inherited:
        out.append(finding("dmarc.inherited", domain, f"the policy of {where} applies (sp={record.subdomain_policy})",
                           subject=subject))
    policy = record.subdomain_policy if inherited else record.p
    base = records[0].rstrip("; ")
    if policy == "none":
        fixed = base.replace(f"p={record.tags.get('p', 'none')}", "p=quarantine") if "p=" in base else base + "; p=quarantine"
        if not record.rua:
            fixed += f"; rua=mailto:dmarc-reports@{org}"
        out.append(finding("dmarc.policy_none", domain, f"{subject}: p=none", subject=subject,
                           fix=f'{subject}. IN TXT "{fixed}" (after a few weeks of clean aggregate reports)'))
    if not record.rua:
        out.append(finding("dmarc.no_rua", domain, f"{subject} has no rua=", subject=subject,
                           fix=f'{subject}. IN TXT "{base}; rua=mailto:dmarc-reports@{org}"'))
    rank = {p: i for i, p in enumerate(POLICIES)}
    for tag in ("sp", "np"):
        value = getattr(record, tag)
        if value and rank[value] < rank[record.p]:
            out.append(finding("dmarc.subdomain_weaker", domain, f"{subject}: {tag}={value} is weaker than p={record.p}",
                               subject=subject, fix=f"set {tag}={record.p} or remove it"))
    for tag in REMOVED:
        if tag in record.tags:
            out.append(finding("dmarc.removed_tag", domain, f"{subject}: {tag}={record.tags[tag]}", subject=subject,
                               fix=f"remove {tag}=" + ("; use t=y for a test policy" if tag == "pct" else "")))
    if record.pct < 100:
        out.append(finding("dmarc.pct_partial", domain, f"{subject}: pct={record.pct}", subject=subject,
                           fix="remove pct= (DMARCbis drops it; t=y is the test switch)"))
    if record.testing:
        out.append(finding("dmarc.testing", domain, f"{subject}: t=y", subject=subject))
    for tag in record.unknown_tags():
        out.append(finding("dmarc.unknown_tag", domain, f"{subject}: {tag}={record.tags[tag]}", subject=subject))
    for tag in ("rua", "ruf"):
        for uri in getattr(record, tag):
            address = _mailto(uri)
            if address is None:
                out.append(finding("dmarc.bad_uri", domain, f"{subject}: {tag}={uri}", subject=subject,
                                   fix=f"use {tag}=mailto:address@{org}"))
                continue
            dest = address.rsplit("@", 1)[1].lower()
            if organizational_domain(dest) == organizational_domain(where):
                continue
            auth_name = f"{where}._report._dmarc.{dest}"
            _, rdatas = yield from lookup(auth_name, "TXT")
            texts = [b"".join(rd.strings).decode("utf-8", "replace").lower() for rd in rdatas]
            if not any(t.startswith("v=dmarc1") for t in texts):
                out.append(finding("dmarc.external_unauthorized", domain,
                                   f"{tag} sends reports to {dest}, which does not publish {auth_name}", subject=auth_name,
                                   fix=f'ask {dest} to publish: {auth_name}. IN TXT "v=DMARC1"'))
    if envelope_domain and not aligned(envelope_domain, domain, record.aspf):
        out.append(finding("dmarc.spf_not_aligned", domain,
                           f"return-path {envelope_domain} vs From {domain} (aspf={record.aspf})", subject=envelope_domain,
                           fix=f"use a return-path under {organizational_domain(domain) if record.aspf == 'r' else domain}"))
    if dkim_domain and not aligned(dkim_domain, domain, record.adkim):
        out.append(finding("dmarc.dkim_not_aligned", domain, f"d={dkim_domain} vs From {domain} (adkim={record.adkim})",
                           subject=dkim_domain, fix=f"sign with d={domain}"))
    return out, record
