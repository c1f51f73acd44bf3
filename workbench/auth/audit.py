"""The authentication audit of sending domains: I/O in a thin shell, logic in pure functions.

- :class:`DomainSpec`: what we know of a sending domain (its return-path, DKIM selectors and
  our private keys, the sending IPs with their HELO names, the ESP that signs for it).
- :func:`fetch_answers` / :func:`fetch_answers_async`: the only DNS (and HTTPS) callers; they
  run the checks against a resolver and record every answer in :class:`Answers`.
- :func:`audit`: pure: ``audit(spec, answers) -> list[Finding]``, replaying the answers.
- :func:`run_audit`: many domains, concurrently (asyncio), optionally over processes.

Examples
--------
>>> from workbench.auth.resolver import RecordsResolver
>>> spec = DomainSpec("example.com", ips=(("192.0.2.1", "mx.example.com"),))
>>> answers = fetch_answers(spec, RecordsResolver.from_text('example.com. TXT "v=spf1 ip4:192.0.2.1 -all"'))
>>> sorted({f.code for f in audit(spec, answers) if f.check == "spf"})
['spf.ok']
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from workbench.auth.answers import Answers
from workbench.auth.bimi import check_bimi
from workbench.auth.dkim import check_selector
from workbench.auth.dkim_keys import PublicKeyInfo
from workbench.auth.dmarc import check_dmarc
from workbench.auth.findings import CHECKS, Finding, finding, worst
from workbench.auth.mta_sts import check_mta_sts, check_tls_rpt
from workbench.auth.mx import check_mx
from workbench.auth.rdns import check_ip
from workbench.auth.sansio import Query, WebGet, drive, drive_async
from workbench.auth.spf.lint import lint_spf

__all__ = ["DomainAudit", "DomainSpec", "audit", "fetch_answers", "fetch_answers_async", "run_audit"]

Gen = Generator[Query | WebGet, Any, Any]


@dataclass(frozen=True)
class DomainSpec:
    """A sending domain as the audit sees it.

    Attributes
    ----------
    domain:
        The From domain.
    selectors:
        The DKIM selectors mail from it is signed with.
    ips:
        ``(ip, HELO name)`` of every IP sending for it.
    return_path:
        The envelope (MAIL FROM) domain (default: the domain).
    keys:
        The public halves of our private keys by selector (``DkimKey.info()``; selectors an
        ESP signs with have none).
    esp:
        The ESP whose shared pool sends for it (``None``: our own MTAs).
    checks:
        The checks to run (default: all).
    """

    domain: str
    selectors: tuple[str, ...] = ()
    ips: tuple[tuple[str, str], ...] = ()
    return_path: str | None = None
    keys: dict[str, PublicKeyInfo] = field(default_factory=dict, compare=False, hash=False)
    esp: str | None = None
    checks: tuple[str, ...] = CHECKS

    @property
    def envelope(self) -> str:
        return (self.return_path or self.domain).lower().rstrip(".")


@dataclass
class DomainAudit:
    """One domain's findings and the answers they were drawn from."""

    spec: DomainSpec
    findings: list[Finding]
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def domain(self) -> str:
        return self.spec.domain

    def status(self) -> dict[str, str]:
        """Check → worst severity (``ok`` when every finding of the check is ``ok`` or ``info``-free)."""
        return {check: worst([f for f in self.findings if f.check == check]) for check in self.spec.checks}


def _steps(spec: DomainSpec, today: date | None) -> Gen:
    """Every check for ``spec`` (sans-I/O); returns the findings."""
    out: list[Finding] = []
    domain, checks = spec.domain, spec.checks
    if "spf" in checks:
        lint = yield from lint_spf(spec.envelope, list(spec.ips))
        spf = [f if f.domain == domain else _rehome(f, domain) for f in lint.findings]
        if not any(f.severity in ("error", "warning") for f in spf):
            passing = f"{len(spec.ips)} sending IP{'s pass' if len(spec.ips) != 1 else ' passes'}"
            spf.append(finding("spf.ok", domain, f"{lint.record} ({lint.lookups} lookups; {passing})", subject=spec.envelope))
        out.extend(spf)
    if "dkim" in checks:
        for selector in spec.selectors:
            out.extend((yield from check_selector(domain, selector, spec.keys.get(selector), today=today,
                                                  managed_by=spec.esp)))
    record = None
    if "dmarc" in checks or "bimi" in checks:
        dmarc, record = yield from check_dmarc(domain, envelope_domain=spec.envelope,
                                               dkim_domain=domain if spec.selectors else None)
        if "dmarc" in checks:
            if record is not None and not any(f.severity in ("error", "warning") for f in dmarc):
                dmarc.append(finding("dmarc.ok", domain, f"p={record.p}, rua={','.join(record.rua)}"))
            out.extend(dmarc)
    if "rdns" in checks:
        for ip, helo in spec.ips:
            out.extend((yield from check_ip(ip, helo, domain)))
    hosts: list[str] = []
    if "mx" in checks or "mta_sts" in checks:
        mx, hosts = yield from check_mx(spec.envelope)
        if "mx" in checks:
            out.extend(_rehome(f, domain) for f in mx)
    if "mta_sts" in checks:
        out.extend((yield from check_mta_sts(domain, hosts)))
    if "tls_rpt" in checks:
        out.extend((yield from check_tls_rpt(domain)))
    if "bimi" in checks:
        out.extend((yield from check_bimi(domain, record)))
    return out


def _rehome(f: Finding, domain: str) -> Finding:
    return Finding(f.code, f.severity, domain, f.detail, f.fix, f.subject)


def fetch_answers(spec: DomainSpec, resolver: Any, web: Any = None, *, today: date | None = None) -> Answers:
    """Ask everything the audit of ``spec`` needs (the only DNS/HTTPS caller, sync).

    Raises
    ------
    AuthAuditError
        A web fetch was needed and no fetcher was given.
    """
    answers = Answers(getattr(resolver, "describe", lambda: "")())
    drive(_steps(spec, today), resolver, web, answers.record)
    return answers


async def fetch_answers_async(spec: DomainSpec, resolver: Any, web: Any = None, *, today: date | None = None) -> Answers:
    """:func:`fetch_answers` against an async resolver and web fetcher.

    Raises
    ------
    AuthAuditError
        A web fetch was needed and no fetcher was given.
    """
    answers = Answers(getattr(resolver, "describe", lambda: "")())
    await drive_async(_steps(spec, today), resolver, web, answers.record)
    return answers


def audit(spec: DomainSpec, answers: Answers, *, today: date | None = None) -> list[Finding]:
    """The findings for ``spec`` from recorded ``answers`` (pure: no I/O).

    Raises
    ------
    AuthAuditError
        ``answers`` lacks a question the audit asks (they were fetched for another spec).
    """
    findings: list[Finding] = drive(_steps(spec, today), answers, answers)
    return findings


class _SyncAsAsync:
    """An async face for a sync resolver or fetcher (zone files answer from memory)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def describe(self) -> str:
        return str(getattr(self.inner, "describe", lambda: "")())

    async def resolve(self, qname: Any, rdtype: Any) -> Any:
        return self.inner.resolve(qname, rdtype)

    async def get(self, request: WebGet) -> Any:
        return self.inner.get(request)


def _is_async(obj: Any, method: str) -> bool:
    return obj is not None and asyncio.iscoroutinefunction(getattr(obj, method, None))


async def audit_async(specs: Sequence[DomainSpec], resolver: Any, web: Any = None, *, today: date | None = None,
                      concurrency: int = 200, progress: Callable[[int], None] | None = None) -> list[DomainAudit]:
    """Fetch and audit ``specs`` concurrently (at most ``concurrency`` domains in flight).

    Raises
    ------
    AuthAuditError
        A web fetch was needed and no fetcher was given.
    """
    resolver = resolver if _is_async(resolver, "resolve") else _SyncAsAsync(resolver)
    web = web if web is None or _is_async(web, "get") else _SyncAsAsync(web)
    gate = asyncio.Semaphore(concurrency)

    async def one(spec: DomainSpec) -> DomainAudit:
        async with gate:
            # one pass records the answers and yields the findings: by construction the same
            # as the pure ``audit(spec, answers)`` (tests check it), without replaying the checks
            answers = Answers(resolver.describe() if hasattr(resolver, "describe") else "")
            findings: list[Finding] = await drive_async(_steps(spec, today), resolver, web, answers.record)
        if progress:
            progress(1)
        return DomainAudit(spec, findings, answers.rows())

    try:
        return list(await asyncio.gather(*(one(s) for s in specs)))
    finally:
        close = getattr(resolver, "close", None)
        if callable(close):
            close()  # sockets belong to this event loop


def _worker(payload: tuple[list[DomainSpec], Callable[[], tuple[Any, Any]], date | None, int]) -> list[DomainAudit]:
    specs, factory, today, concurrency = payload
    resolver, web = factory()
    return asyncio.run(audit_async(specs, resolver, web, today=today, concurrency=concurrency))


def run_audit(specs: Iterable[DomainSpec], factory: Callable[[], tuple[Any, Any]], *, today: date | None = None,
              concurrency: int = 200, processes: int = 1, progress: Callable[[int], None] | None = None) -> list[DomainAudit]:
    """Audit every spec; ``factory()`` returns ``(resolver, web fetcher)`` (built once per
    process, so a picklable factory lets ``processes > 1`` split the domains across cores).

    Raises
    ------
    AuthAuditError
        A web fetch was needed and the factory gave no fetcher.
    """
    specs = list(specs)
    if processes <= 1 or len(specs) < 2 * processes:
        resolver, web = factory()
        return asyncio.run(audit_async(specs, resolver, web, today=today, concurrency=concurrency, progress=progress))
    chunks = [specs[i::processes] for i in range(processes)]
    with ProcessPoolExecutor(max_workers=processes) as pool:
        parts = list(pool.map(_worker, [(c, factory, today, concurrency) for c in chunks]))
    merged: list[DomainAudit] = [None] * len(specs)  # type: ignore[list-item]
    for i, part in enumerate(parts):
        merged[i::processes] = part
    if progress:
        progress(len(merged))
    return merged
