"""Authentication audits: SPF, DKIM, DMARC, reverse DNS, MX, MTA-STS, TLS-RPT and BIMI.

The public surface (what notebooks and other areas import)::

    from workbench.auth import AuditSetup, audit_store_domains, status_grid, latest_findings
    run = audit_store_domains(Store(), AuditSetup(zones=("data/dns",)))

DNS goes through one seam (:mod:`workbench.auth.resolver`); checks are sans-I/O generators
(:mod:`workbench.auth.sansio`); ``fetch_answers`` is the only DNS caller and ``audit`` is pure
(:mod:`workbench.auth.audit`); DKIM keys for signing come from
:func:`workbench.auth.dkim_keys.load_private_key`.
"""

from workbench.auth.audit import DomainAudit, DomainSpec, audit, fetch_answers, run_audit
from workbench.auth.dkim_keys import DkimKey, generate_key, load_private_key
from workbench.auth.findings import CODES, Finding
from workbench.auth.records import records_for, rotation_plan
from workbench.auth.resolver import AsyncLiveResolver, LiveResolver, RecordsResolver
from workbench.auth.run import AuditRun, AuditSetup, audit_store_domains
from workbench.auth.store import (
    audit_history,
    domain_specs,
    finding_changes,
    latest_findings,
    status_grid,
)

__all__ = [
    "CODES",
    "AsyncLiveResolver",
    "AuditRun",
    "AuditSetup",
    "DkimKey",
    "DomainAudit",
    "DomainSpec",
    "Finding",
    "LiveResolver",
    "RecordsResolver",
    "audit",
    "audit_history",
    "audit_store_domains",
    "domain_specs",
    "fetch_answers",
    "finding_changes",
    "generate_key",
    "latest_findings",
    "load_private_key",
    "records_for",
    "rotation_plan",
    "run_audit",
    "status_grid",
]
