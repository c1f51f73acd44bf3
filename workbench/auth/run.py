"""Running an audit end to end: choose the resolver, audit the store's domains, save the run.

:class:`AuditSetup` says where answers come from: zone files (offline; the demo's default
``data/dns/*.zone``, with ``data/dns/web/`` serving the MTA-STS policies and BIMI logos) or
live DNS (the system's resolvers or given nameservers, HTTPS verified against the system's
CAs or a bundle). It is picklable, so an audit can spread over processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from workbench.auth.audit import DomainAudit, DomainSpec, run_audit
from workbench.auth.resolver import AsyncLiveResolver, LiveResolver, RecordsResolver
from workbench.auth.store import domain_specs, save_audit
from workbench.auth.web import AsyncWeb, HttpsFetcher, OfflineWeb
from workbench.store import Store

__all__ = ["AuditRun", "AuditSetup", "audit_store_domains"]


@dataclass(frozen=True)
class AuditSetup:
    """Where an audit's answers come from.

    Attributes
    ----------
    zones:
        Zone files or folders: answer offline from them (documents from ``<folder>/web/``).
    nameservers:
        ``host`` or ``host:port`` for live DNS (``None`` and no zones: the system's resolvers).
    ca_bundle, https_port:
        For live HTTPS fetches (MTA-STS policies, BIMI logos): extra CAs, and the port.
    web_root:
        The offline documents folder (default: ``web/`` beside the first zone file).
    """

    zones: tuple[str, ...] = ()
    nameservers: tuple[str, ...] = ()
    ca_bundle: str | None = None
    https_port: int = 443
    web_root: str | None = None
    timeout: float = 2.0
    lifetime: float = 5.0
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def offline(self) -> bool:
        return bool(self.zones)

    def describe(self) -> str:
        if self.offline:
            return "offline zone files " + ", ".join(self.zones)
        return "live DNS " + (", ".join(self.nameservers) if self.nameservers else "(system resolvers)")

    def sync_resolver(self) -> Any:
        """A sync resolver for the same source (records, signing checks)."""
        if self.offline:
            if "records" not in self._cache:
                self._cache["records"] = RecordsResolver.from_zone_files(self.zones)
            return self._cache["records"]
        return LiveResolver(list(self.nameservers) or None, timeout=self.timeout, lifetime=self.lifetime)

    def __call__(self) -> tuple[Any, Any]:
        """``(resolver, web fetcher)`` for :func:`workbench.auth.audit.run_audit`.

        Raises
        ------
        ConfigError
            No zone file matched (offline).
        """
        if self.offline:
            resolver = self.sync_resolver()
            root = Path(self.web_root) if self.web_root else _web_root(self.zones)
            return resolver, OfflineWeb(root)
        live = AsyncLiveResolver(list(self.nameservers) or None, timeout=self.timeout, lifetime=self.lifetime)
        fetcher = HttpsFetcher(LiveResolver(list(self.nameservers) or None, timeout=self.timeout, lifetime=self.lifetime),
                               self.ca_bundle, self.https_port)
        return live, AsyncWeb(fetcher)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state


def _web_root(zones: Sequence[str]) -> Path:
    first = Path(zones[0])
    return (first if first.is_dir() else first.parent) / "web"


@dataclass
class AuditRun:
    """An audit run: its id in the store (``None`` when not saved) and each domain's audit."""

    audit_id: str | None
    audits: list[DomainAudit]
    resolver: str
    seconds: float

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for a in self.audits for f in a.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"audit_id": self.audit_id, "resolver": self.resolver, "seconds": round(self.seconds, 3),
                "domains": [{"domain": a.domain, "status": a.status(), "findings": [f.as_dict() for f in a.findings]}
                            for a in self.audits]}


def audit_store_domains(store: Store, setup: AuditSetup, *, domains: Sequence[str] | None = None,
                        specs: Sequence[DomainSpec] | None = None, keys_dir: Path | None = None, today: date | None = None,
                        save: bool = True, progress: Callable[[int], None] | None = None) -> AuditRun:
    """Audit the store's sending domains (or ``domains``, or ready ``specs``) and save the run.

    Raises
    ------
    ConfigError
        No sending domain in the store, a named domain unknown, no zone file.
    StoreError
        The run cannot be saved.
    """
    started = datetime.now(UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    specs = list(specs) if specs is not None else domain_specs(store, domains, keys_dir)
    audits = run_audit(specs, setup, today=today or date.today(), progress=progress)
    audit_id = save_audit(store, audits, setup.describe(), started) if save else None
    return AuditRun(audit_id, audits, setup.describe(), time.perf_counter() - t0)
