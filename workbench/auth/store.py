"""Audits and the store: the domains to audit come from it, the results go back with history.

- :func:`domain_specs`: every sending domain of ``sending_domains`` (loaded from the
  infrastructure file) with its pool's IPs and HELO names, its selectors and our keys.
- :func:`save_audit`: one transaction: the run, the grid, the findings, the DNS evidence.
- :func:`status_grid`, :func:`latest_findings`, :func:`finding_changes`, :func:`audit_history`:
  what the notebook and the CLI show (SQL in ``workbench/sql/auth_*.sql``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from workbench.auth.audit import DomainAudit, DomainSpec
from workbench.auth.dkim_keys import load_private_key
from workbench.errors import ConfigError
from workbench.store import Store, load_sql
from workbench.store.frames import insert_frame

__all__ = ["audit_history", "domain_specs", "finding_changes", "latest_findings", "save_audit", "status_grid"]


def domain_specs(store: Store, domains: Sequence[str] | None = None, keys_dir: Path | None = None) -> list[DomainSpec]:
    """The sending domains to audit (all, or those named), with our keys' public halves.

    Raises
    ------
    ConfigError
        A named domain is not in ``sending_domains``, or no domain is (load the
        infrastructure file first).
    """
    wanted = [d.lower().rstrip(".") for d in domains] if domains else None
    rows = store.sql("auth_sending_domains", {"domains": wanted}).to_dicts()
    if wanted:
        missing = sorted(set(wanted) - {r["domain"] for r in rows})
        if missing:
            raise ConfigError(f"not sending domains: {', '.join(missing)} (see `workbench status`; the infrastructure "
                              "file declares them) — or audit any domain with --adhoc")
    if not rows:
        raise ConfigError("no sending domains in the store: load your infrastructure file first "
                          "(`workbench load infrastructure.yaml`, or `make demo`)")
    specs = []
    for row in rows:
        keys = {}
        for selector in row["selectors"]:
            try:
                keys[selector] = load_private_key(row["domain"], selector, keys_dir).info()
            except ConfigError:
                continue
        esp = row["ip_pool"] if row["pool_kind"] == "shared" else None
        specs.append(DomainSpec(row["domain"], tuple(row["selectors"]), tuple((i["ip"], i["hostname"]) for i in row["ips"]),
                                row["return_path_domain"], keys, esp))
    return specs


def save_audit(store: Store, audits: Sequence[DomainAudit], resolver: str, started: datetime,
               finished: datetime | None = None) -> str:
    """Store one audit run (one transaction); returns its id.

    Raises
    ------
    StoreError
        The store cannot be written.
    """
    finished = finished or datetime.now(UTC).replace(tzinfo=None)
    audit_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    checks = pl.DataFrame(
        [{"audit_id": audit_id, "audited_at": started, "domain": a.domain, "check_name": c, "status": s}
         for a in audits for c, s in a.status().items()],
        schema={"audit_id": pl.Utf8, "audited_at": pl.Datetime("us"), "domain": pl.Utf8, "check_name": pl.Utf8, "status": pl.Utf8},
    )
    findings = pl.DataFrame(
        [{"audit_id": audit_id, "audited_at": started, "domain": a.domain, "check_name": f.check, "code": f.code,
          "severity": f.severity, "subject": f.subject, "detail": f.detail, "fix": f.fix} for a in audits for f in a.findings],
        schema={"audit_id": pl.Utf8, "audited_at": pl.Datetime("us"), "domain": pl.Utf8, "check_name": pl.Utf8, "code": pl.Utf8,
                "severity": pl.Utf8, "subject": pl.Utf8, "detail": pl.Utf8, "fix": pl.Utf8},
    )
    answers = pl.DataFrame(
        [{"audit_id": audit_id, "domain": a.domain, **row} for a in audits for row in a.evidence],
        schema={"audit_id": pl.Utf8, "domain": pl.Utf8, "qname": pl.Utf8, "rdtype": pl.Utf8, "status": pl.Utf8,
                "records": pl.List(pl.Utf8)},
    )
    errors = int((findings["severity"] == "error").sum()) if len(findings) else 0
    warnings = int((findings["severity"] == "warning").sum()) if len(findings) else 0
    with store.writer() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("INSERT INTO auth_audits VALUES ($id, $started, $finished, $resolver, $n, $errors, $warnings)",
                        {"id": audit_id, "started": started, "finished": finished, "resolver": resolver, "n": len(audits),
                         "errors": errors, "warnings": warnings})
            for table, frame in (("auth_checks", checks), ("auth_findings", findings), ("auth_dns_answers", answers)):
                if len(frame):
                    insert_frame(con, table, frame)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    store.release(force=True)
    return audit_id


def status_grid(store: Store) -> pl.DataFrame:
    """The latest status of every domain x check, as a wide frame (a row per domain)."""
    long = store.sql("auth_latest_checks")
    if long.is_empty():
        return pl.DataFrame({"domain": []}, schema={"domain": pl.Utf8})
    return long.pivot(on="check_name", index="domain", values="status", sort_columns=False).sort("domain")


def latest_findings(store: Store, min_severity: str = "info") -> pl.DataFrame:
    """The findings of each domain's latest audit at or above ``min_severity``, worst first."""
    return store.sql("auth_latest_findings", {"min_severity": min_severity})


def finding_changes(store: Store, since: datetime | None = None, days: int = 7) -> pl.DataFrame:
    """Findings new or resolved since the last audit at or before ``since`` (default ``days`` ago)."""
    since = since or datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    return store.sql("auth_finding_changes", {"since": since})


def audit_history(store: Store) -> pl.DataFrame:
    """Every audit run with its counts of errors, warnings and infos."""
    return store.sql("auth_audit_history")


def load_sql_names() -> list[str]:
    """The auth queries (for the test that runs every .sql file)."""
    return [n for n in ("auth_sending_domains", "auth_latest_checks", "auth_latest_findings", "auth_finding_changes",
                        "auth_audit_history") if load_sql(n)]
