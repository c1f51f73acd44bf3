"""DMARC and TLS-RPT analytics: the queries of ``workbench/sql/dmarc_*.sql`` and the rates.

Counts come from SQL over the ``dmarc_flow`` view; the rates are the small functions here,
defined once:

- *pass rate* = messages whose aligned DKIM or aligned SPF passed ÷ messages reported;
- *policy readiness* of a domain = our own messages that pass ÷ our own messages (what
  p=reject would keep); the rest would be lost, so a domain is ready when it is ≥ 98 %.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

from workbench.store import Store

__all__ = ["READY_AT", "alignment_failures", "default_window", "forwarded", "pass_rate", "pass_rate_by_day",
           "policy_readiness", "readiness", "sources", "tls_failures_by_mx", "tls_sessions", "unknown_senders"]

#: share of our own mail that must pass DMARC before tightening the policy
READY_AT = 0.98


def pass_rate(passed: float | None, total: float | None) -> float | None:
    """Passed ÷ total, ``None`` when nothing was reported."""
    if not total:
        return None
    return float(passed or 0) / float(total)


def readiness(ours_passing: float, ours: float) -> float | None:
    """Share of our own mail that would survive p=reject (``None`` without own mail)."""
    return pass_rate(ours_passing, ours)


def default_window(store: Store, days: int = 30) -> tuple[date, date]:
    """The last ``days`` days that aggregate reports cover (today's window if none)."""
    last = store.scalar("SELECT max(day) FROM dmarc_flow")
    end = last if isinstance(last, date) else date.today()
    return end - timedelta(days=days - 1), end


def _params(start: date, end: date, domain: str | None, **extra: Any) -> dict[str, Any]:
    return {"start": start, "end": end, "domain": domain.lower() if domain else None, **extra}


def _rate(frame: pl.DataFrame, passed: str = "passed", total: str = "messages", name: str = "pass_rate") -> pl.DataFrame:
    frame = frame.with_columns(pl.col(pl.Int64).fill_null(0))
    return frame.with_columns(
        pl.when(pl.col(total) > 0).then(pl.col(passed).fill_null(0) / pl.col(total)).otherwise(None).alias(name)
    )


def pass_rate_by_day(store: Store, start: date, end: date, domain: str | None = None, *, by: str = "header_from",
                     period: str = "1d") -> pl.DataFrame:
    """Messages, passes and pass rate per ``period`` (``"1d"``, ``"1w"``: polars durations; the
    column stays ``day``, the period's first day) and ``by`` (``header_from`` or ``header_from_org``)."""
    frame = store.sql("dmarc_pass_rate", _params(start, end, domain))
    frame = frame.with_columns(pl.col("day").dt.truncate(period))
    frame = frame.group_by("day", by).agg(pl.col("messages", "passed", "dkim_aligned", "spf_aligned").sum()).sort("day", by)
    return _rate(frame)


def sources(store: Store, start: date, end: date, domain: str | None = None) -> pl.DataFrame:
    """Every source IP sending as the domain(s), with reverse DNS, kind and pass rate."""
    return _rate(store.sql("dmarc_sources", _params(start, end, domain)))


def alignment_failures(store: Store, start: date, end: date, domain: str | None = None) -> pl.DataFrame:
    """Messages failing SPF or DKIM alignment, by why (fail / unaligned / none) and source kind."""
    return store.sql("dmarc_alignment", _params(start, end, domain))


def unknown_senders(store: Store, start: date, end: date, domain: str | None = None, *, limit: int = 50) -> pl.DataFrame:
    """Sources not in the ``ips`` table sending as the domain(s), largest first."""
    return _rate(store.sql("dmarc_unknown_senders", _params(start, end, domain, limit=limit)))


def forwarded(store: Store, start: date, end: date, domain: str | None = None) -> pl.DataFrame:
    """Forwarded and mailing-list mail per day, and how it fared."""
    return _rate(store.sql("dmarc_forwarded", _params(start, end, domain)))


def policy_readiness(store: Store, start: date, end: date, domain: str | None = None) -> pl.DataFrame:
    """Per header_from domain: what p=quarantine/reject would do today, and whether it is ready."""
    frame = store.sql("dmarc_policy_readiness", _params(start, end, domain))
    frame = frame.with_columns(pl.col(pl.Int64).fill_null(0))
    frame = _rate(frame.with_columns((pl.col("messages") - pl.col("failing")).alias("passed")))
    frame = frame.with_columns(
        pl.when(pl.col("ours") > 0).then((pl.col("ours") - pl.col("ours_failing").fill_null(0)) / pl.col("ours")).alias("readiness"),
    )
    return frame.with_columns(
        pl.when(pl.col("readiness").is_null()).then(pl.lit("no own mail seen"))
        .when(pl.col("readiness") >= READY_AT).then(pl.lit("ready"))
        .otherwise(pl.lit("not ready: own mail fails")).alias("verdict")
    ).drop("passed")


def tls_failures_by_mx(store: Store, start: date, end: date) -> pl.DataFrame:
    """SMTP TLS failed sessions per receiving MX and failure type."""
    return store.sql("tlsrpt_failures_by_mx", {"start": start, "end": end})


def tls_sessions(store: Store, start: date, end: date) -> pl.DataFrame:
    """SMTP TLS sessions per day and policy domain, with the failure rate."""
    frame = store.sql("tlsrpt_sessions", {"start": start, "end": end})
    return frame.with_columns(
        (pl.col("failed_sessions") / (pl.col("failed_sessions") + pl.col("successful_sessions"))).alias("failure_rate")
    )
