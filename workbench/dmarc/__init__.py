"""DMARC and SMTP TLS reporting: fetching report mail, enrichment and analytics.

The parsers and loaders live in :mod:`workbench.sources.dmarc`; this package works on what
the store holds.
"""

from workbench.dmarc.analytics import (
    alignment_failures,
    default_window,
    forwarded,
    pass_rate,
    pass_rate_by_day,
    policy_readiness,
    sources,
    tls_failures_by_mx,
    tls_sessions,
    unknown_senders,
)
from workbench.dmarc.enrich import enrich

__all__ = [
    "alignment_failures",
    "default_window",
    "enrich",
    "forwarded",
    "pass_rate",
    "pass_rate_by_day",
    "policy_readiness",
    "sources",
    "tls_failures_by_mx",
    "tls_sessions",
    "unknown_senders",
]
