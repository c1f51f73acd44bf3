"""The SPF linter: what a domain publishes, judged the way receivers evaluate it.

It walks the include tree and counts the DNS-querying terms every evaluation that reaches
the end of the record pays (``include``, ``a``, ``mx``, ``ptr``, ``exists``, ``redirect``;
``ip4``/``ip6``/``all``/``exp`` are free), counts void lookups, flags ``+all`` / ``?all`` /
``ptr`` / several records / answers over 512 bytes, runs :func:`check_host` for every
sending IP of ours, and proposes a flattened record when the tree is over the limit.
Sans-I/O: :func:`lint_spf` is a generator (see :mod:`workbench.auth.sansio`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from workbench.auth.findings import Finding, finding
from workbench.auth.sansio import Query, WebGet, lookup
from workbench.auth.spf.check import (
    MAX_LOOKUPS,
    MAX_VOID,
    PermError,
    TempError,
    domain_name,
    evaluate,
    fetch_record,
)
from workbench.auth.spf.record import LOOKUP_TERMS, SpfRecord, SpfSyntaxError, parse_record

__all__ = ["SpfLint", "lint_spf", "split_strings", "suggest_record"]

Gen = Generator[Query | WebGet, Any, Any]
MAX_DEPTH = 10


@dataclass
class SpfLint:
    """The linter's verdict: findings, the lookup and void counts, the record, a flattened one."""

    record: str | None = None
    lookups: int = 0
    voids: int = 0
    findings: list[Finding] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    flattened: str | None = None
    complete: bool = True


def split_strings(record: str, size: int = 255) -> list[str]:
    """Cut a TXT record into character-strings of at most 255 bytes, at spaces when possible."""
    out, current = [], ""
    for term in record.split(" "):
        candidate = f"{current} {term}" if current else term
        if len(candidate) <= size:
            current = candidate
            continue
        if current:
            out.append(current + " ")
        while len(term) > size:
            out.append(term[:size])
            term = term[size:]
        current = term
    out.append(current)
    return out


def suggest_record(networks: list[str], includes: list[str], qualifier: str = "-") -> str:
    """An SPF record authorising ``networks`` (``ip4:``/``ip6:`` terms) and ``includes``."""
    terms = [f"ip{ipaddress.ip_network(n, strict=False).version}:{n.removesuffix('/32').removesuffix('/128')}" for n in networks]
    terms += [f"include:{d}" for d in includes]
    return " ".join(["v=spf1", *terms, f"{qualifier}all"])


def _walk(domain: str, out: SpfLint, top: str, depth: int, seen: set[str]) -> Gen:
    """Count the tree under ``domain``'s record (already known to exist at depth 0)."""
    name = domain_name(domain)
    if name is None:
        return None
    try:
        status, text = yield from fetch_record(name)
    except (PermError, TempError) as exc:
        code = "spf.dns_error" if isinstance(exc, TempError) else "spf.multiple_records"
        out.findings.append(finding(code, top, str(exc), subject=domain))
        out.complete = False
        return None
    if text is None:
        return status
    try:
        record = parse_record(text)
    except SpfSyntaxError as exc:
        out.findings.append(finding("spf.syntax", top, f"{domain}: {exc}", subject=domain))
        out.complete = False
        return "syntax"
    yield from _walk_record(domain, record, out, top, depth, seen)
    return "ok"


def _void(out: SpfLint, top: str, term: str, domain: str) -> None:
    out.voids += 1
    out.findings.append(finding("spf.void_lookup", top, f"{term} in {domain}'s record names a domain with no records",
                                subject=domain))


def _walk_record(domain: str, record: SpfRecord, out: SpfLint, top: str, depth: int, seen: set[str]) -> Gen:
    has_all = any(m.name == "all" for m in record.mechanisms)
    for mech in record.mechanisms:
        if mech.name in ("ip4", "ip6"):
            length = mech.cidr4 if mech.name == "ip4" else mech.cidr6
            out.networks.append(f"{mech.value}/{length}" if length is not None else mech.value)
        if mech.name == "ptr":
            out.findings.append(finding("spf.ptr", top, f"{mech.text} in {domain}'s record", subject=domain,
                                        fix="replace ptr with ip4:/ip6: terms for the hosts it was meant to cover"))
        if mech.name not in LOOKUP_TERMS:
            continue
        out.lookups += 1
        target = mech.value or domain
        if "%" in target:
            out.complete = False
            continue
        if mech.name == "include":
            key = target.lower().rstrip(".")
            if key in seen or depth >= MAX_DEPTH:
                out.findings.append(finding("spf.too_many_lookups", top, f"include loop through {target}", subject=domain))
                continue
            status = yield from _walk(target, out, top, depth + 1, seen | {key})
            if status in ("nxdomain", "noanswer", "none"):
                if status != "none":
                    _void(out, top, mech.text, domain)
                out.findings.append(finding("spf.include_missing", top, f"include:{target} (in {domain}) has no SPF record",
                                            subject=target, fix=f"remove include:{target}, or publish SPF at {target}"))
        elif mech.name in ("a", "mx"):
            yield from _addresses(mech.name, target, mech.text, domain, out, top)
        elif mech.name == "exists":
            status, _ = yield from lookup(target, "A")
            if status in ("nxdomain", "noanswer"):
                _void(out, top, mech.text, domain)
    if record.redirect:
        if has_all:
            out.findings.append(finding("spf.redirect_ignored", top, f"{domain}: redirect={record.redirect} follows an all term",
                                        subject=domain, fix=f"remove redirect={record.redirect}"))
        else:
            out.lookups += 1
            if "%" not in record.redirect:
                yield from _walk(record.redirect, out, top, depth + 1, seen | {record.redirect.lower()})


def _addresses(kind: str, target: str, text: str, domain: str, out: SpfLint, top: str) -> Gen:
    hosts = [target]
    if kind == "mx":
        status, rdatas = yield from lookup(target, "MX")
        if status in ("nxdomain", "noanswer"):
            _void(out, top, text, domain)
            return
        hosts = [rd.exchange.to_text(omit_final_dot=True) for rd in rdatas if rd.exchange.to_text() != "."]
    found = False
    for host in hosts:
        for rdtype in ("A", "AAAA"):
            status, rdatas = yield from lookup(host, rdtype)
            for rd in rdatas:
                found = True
                out.networks.append(rd.address)
    if not found and kind == "a":
        _void(out, top, text, domain)


def lint_spf(domain: str, ips: list[tuple[str, str]], *, mailfrom: str | None = None) -> Gen:
    """Lint ``domain``'s SPF; ``ips`` are our sending ``(ip, helo name)`` pairs that must pass.

    Returns an :class:`SpfLint`.
    """
    out = SpfLint()
    name = domain_name(domain)
    suggested = suggest_record(sorted({ip for ip, _ in ips}), [])
    status, rdatas = "error", list[Any]()
    if name is not None:
        status, rdatas = yield from lookup(name, "TXT")
    if status in ("timeout", "error"):
        out.findings.append(finding("spf.dns_error", domain, f"TXT {domain}: DNS {status}", subject=domain))
        return out
    spf = [rd for rd in rdatas if b"".join(rd.strings).lower().startswith(b"v=spf1")]
    if not spf:
        out.findings.append(finding("spf.missing", domain, f"no v=spf1 TXT record at {domain}", subject=domain,
                                    fix=f'{domain}. IN TXT "{suggested}"'))
        return out
    if len(spf) > 1:
        out.findings.append(finding("spf.multiple_records", domain, f"{len(spf)} SPF records at {domain}", subject=domain,
                                    fix="merge them into one record"))
        return out
    wire = sum(len(rd.to_wire() or b"") for rd in rdatas)
    if wire > 512:
        out.findings.append(finding("spf.large_answer", domain, f"the TXT answer at {domain} is {wire} bytes", subject=domain,
                                    fix="remove TXT records that are no longer needed (site verifications)"))
    text = b"".join(spf[0].strings).decode("ascii", "replace")
    out.record = text
    try:
        record = parse_record(text)
    except SpfSyntaxError as exc:
        out.findings.append(finding("spf.syntax", domain, str(exc), subject=domain, fix=f'{domain}. IN TXT "{suggested}"'))
        return out
    last = next((m for m in reversed(record.mechanisms) if m.name == "all"), None)
    if last is not None and last.qualifier == "+":
        out.findings.append(finding("spf.pass_all", domain, f"{last.text} in {text!r}", subject=domain,
                                    fix=f'{domain}. IN TXT "{text.replace(last.text, "-all")}"'))
    elif (last is not None and last.qualifier == "?") or (last is None and record.redirect is None):
        out.findings.append(finding("spf.neutral_all", domain, f"{text!r} ends without -all or ~all", subject=domain,
                                    fix=f'{domain}. IN TXT "{text.replace(last.text, "-all") if last else text + " -all"}"'))
    yield from _walk_record(domain, record, out, domain, 0, {domain.lower()})
    if out.lookups > MAX_LOOKUPS:
        qualifier = last.qualifier if last is not None and last.qualifier in "-~" else "-"
        networks = sorted(set(out.networks), key=lambda n: (":" in n, n))
        out.flattened = suggest_record(networks, [], qualifier)
        strings = " ".join(f'"{s}"' for s in split_strings(out.flattened))
        out.findings.append(finding(
            "spf.too_many_lookups", domain, f"{out.lookups} DNS-querying terms through the include tree (limit {MAX_LOOKUPS})",
            subject=domain, fix=f"flatten: {domain}. IN TXT {strings}" + ("" if out.complete else
                                                                          " (macros or errors: check the result by hand)")))
    if out.voids > MAX_VOID:
        out.findings.append(finding("spf.too_many_void_lookups", domain, f"{out.voids} void lookups (limit {MAX_VOID})",
                                    subject=domain, fix="remove the terms naming domains that do not exist"))
    sender = mailfrom or f"postmaster@{domain}"
    for ip, helo in ips:
        result = yield from evaluate(ip, sender, helo or domain)
        if result.result == "pass":
            continue
        if result.result == "temperror":
            out.findings.append(finding("spf.ip_temperror", domain, f"{ip}: {result.explanation}", subject=ip))
            continue
        term = f"ip{ipaddress.ip_address(ip).version}:{ip}"
        fixed = text.replace(" " + last.text, f" {term} {last.text}") if last else f"{text} {term}"
        out.findings.append(finding("spf.ip_not_authorized", domain, f"{ip} gets {result.result} for {sender}", subject=ip,
                                    fix=f'{domain}. IN TXT "{fixed}"' if result.result != "permerror" else
                                    "fix the permerror first"))
    return out
