"""Enrichment of DMARC data, a step of its own (never inside a parser).

- the organizational (base) domain of every identifier in the reports: from the public
  suffix list shipped offline by ``publicsuffixlist``, or — when a resolver is given and
  ``tree_walk`` is set — by the RFC 9989 (DMARCbis) DNS tree walk over ``_dmarc`` records;
- the reverse DNS (PTR) of every source IP, through the resolver seam, cached in the store
  (``ip_rdns``: an IP is looked up once);
- the sending service behind an IP, from its PTR's organizational domain
  (``workbench/data/services.tsv``).

A resolver is any object with dnspython's ``resolve(qname, rdtype)``: a
``dns.resolver.Resolver``, the workbench's offline zone-file resolver, or a test double.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Protocol

import dns.exception
import dns.resolver
import dns.reversename
import polars as pl
from publicsuffixlist import PublicSuffixList

from workbench.store import Store
from workbench.store.frames import insert_frame

__all__ = ["EnrichResult", "Resolver", "enrich", "org_domain_psl", "org_domain_treewalk", "reverse_dns", "service_of"]

#: RFC 9989: the tree walk queries at most this many names
MAX_WALK = 8


class Resolver(Protocol):
    """The DNS seam: dnspython's ``resolve``."""

    def resolve(self, qname: Any, rdtype: Any) -> Any: ...


@dataclass
class EnrichResult:
    domains: int = 0
    ips: int = 0
    ptr_found: int = 0


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


@cache
def services() -> dict[str, str]:
    """PTR organizational domain -> sending service name."""
    text = resources.files("workbench").joinpath("data", "services.tsv").read_text(encoding="utf-8")
    pairs = (line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return {k.strip().lower(): v.strip() for k, v in pairs}


def org_domain_psl(domain: str) -> str | None:
    """The registrable domain of ``domain`` by the public suffix list (``None`` for a suffix)."""
    name = domain.strip().rstrip(".").lower()
    if not name or ("." not in name and not name.isalnum()):
        return None
    return _psl().privatesuffix(name)


def _dmarc_record(resolver: Resolver, name: str) -> dict[str, str] | None:
    try:
        answer = resolver.resolve(f"_dmarc.{name}", "TXT")
    except (dns.exception.DNSException, OSError):
        return None
    for rdata in answer:
        text = b"".join(getattr(rdata, "strings", [])).decode("utf-8", "replace").strip()
        if text.lower().startswith("v=dmarc1"):
            tags = (part.split("=", 1) for part in text.split(";") if "=" in part)
            return {k.strip().lower(): v.strip().lower() for k, v in tags}
    return None


def org_domain_treewalk(domain: str, resolver: Resolver) -> str | None:
    """The organizational domain by the RFC 9989 DNS tree walk.

    From the domain up to (not including) its top-level label, at most eight names: the
    first name, from the top, whose DMARC record says ``psd=n`` is the organizational
    domain; below a ``psd=y`` record it is the name one label longer; else the name with
    the fewest labels that has a DMARC record; else the public suffix list's answer.
    """
    labels = domain.strip().rstrip(".").lower().split(".")
    if len(labels) < 2:
        return None
    if len(labels) > MAX_WALK:
        labels = labels[-(MAX_WALK - 1):]
    names = [".".join(labels[i:]) for i in range(len(labels) - 1)]  # longest first
    records = {name: _dmarc_record(resolver, name) for name in names}
    for shortest_first, name in enumerate(reversed(names)):
        record = records[name]
        if record is None:
            continue
        if record.get("psd") == "n":
            return name
        if record.get("psd") == "y":
            longer = list(reversed(names))
            return longer[shortest_first + 1] if shortest_first + 1 < len(longer) else name
    with_record = [n for n in names if records[n] is not None]
    if with_record:
        return with_record[-1]
    return org_domain_psl(domain)


def reverse_dns(ip: str, resolver: Resolver) -> tuple[str | None, str]:
    """The PTR name of ``ip`` (no trailing dot) and the lookup status
    (``ok``, ``nxdomain``, ``nodata``, ``error``)."""
    try:
        answer = resolver.resolve(dns.reversename.from_address(ip), "PTR")
    except dns.resolver.NXDOMAIN:
        return None, "nxdomain"
    except dns.resolver.NoAnswer:
        return None, "nodata"
    except (dns.exception.DNSException, OSError, ValueError):
        return None, "error"
    for rdata in answer:
        return str(getattr(rdata, "target", rdata)).rstrip(".").lower(), "ok"
    return None, "nodata"


def service_of(ptr: str | None) -> tuple[str | None, str | None]:
    """The PTR's organizational domain and the sending service it belongs to, if known."""
    if not ptr:
        return None, None
    org = org_domain_psl(ptr)
    table = services()
    parts = ptr.split(".")
    for i in range(len(parts) - 1):  # the longest known suffix wins (protection.outlook.com)
        service = table.get(".".join(parts[i:]))
        if service:
            return org, service
    return org, None


def _domains(store: Store, resolver: Resolver | None, tree_walk: bool) -> int:
    todo = [str(d) for d in store.sql("dmarc_domains_to_enrich")["domain"].to_list()]
    if not todo:
        return 0
    walk = tree_walk and resolver is not None
    method = "treewalk" if walk else "psl"
    orgs = [org_domain_treewalk(d, resolver) if walk and resolver is not None else org_domain_psl(d) for d in todo]
    frame = pl.DataFrame({"domain": todo, "org_domain": orgs, "method": [method] * len(todo)},
                         schema={"domain": pl.Utf8, "org_domain": pl.Utf8, "method": pl.Utf8})
    with store.writer() as con:
        insert_frame(con, "domain_org", frame, replace=True)
    store.release(force=True)
    return len(todo)


def _rdns(store: Store, resolver: Resolver, threads: int, progress: Callable[[int, int], None] | None) -> tuple[int, int]:
    ips = [str(i) for i in store.sql("dmarc_ips_to_resolve")["ip"].to_list()]
    if not ips:
        return 0, 0
    done = 0

    def one(ip: str) -> tuple[str | None, str]:
        return reverse_dns(ip, resolver)

    rows: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for ip, (ptr, status) in zip(ips, pool.map(one, ips), strict=True):
            org, service = service_of(ptr)
            rows.append({"ip": ip, "ptr": ptr, "ptr_org_domain": org, "service": service, "status": status,
                         "resolved_at": datetime.now(UTC).replace(tzinfo=None)})
            done += 1
            if progress:
                progress(done, len(ips))
    frame = pl.DataFrame(rows, schema={"ip": pl.Utf8, "ptr": pl.Utf8, "ptr_org_domain": pl.Utf8, "service": pl.Utf8,
                                       "status": pl.Utf8, "resolved_at": pl.Datetime("us")})
    with store.writer() as con:
        insert_frame(con, "ip_rdns", frame, replace=True)
    store.release(force=True)
    return len(ips), int(frame["ptr"].is_not_null().sum())


def enrich(
    store: Store,
    resolver: Resolver | None = None,
    *,
    rdns: bool = True,
    tree_walk: bool = False,
    threads: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> EnrichResult:
    """Fill ``domain_org`` and (with a resolver and ``rdns``) ``ip_rdns`` for what is new.

    Raises
    ------
    StoreError
        The store failed.
    """
    result = EnrichResult()
    result.domains = _domains(store, resolver, tree_walk)
    if resolver is not None and rdns:
        result.ips, result.ptr_found = _rdns(store, resolver, threads, progress)
    return result


def domains_of(values: Iterable[str | None]) -> list[str]:
    """Distinct, lower-cased, non-empty domain names (helper for tests and callers)."""
    return sorted({v.strip().lower().rstrip(".") for v in values if v and v.strip()})

