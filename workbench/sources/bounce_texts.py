"""Refining the bounce reasons of send logs with the bounce-mail classifier.

Send-log parsers give each failure a first, coarse reason (``events.bounce_reason_expr``).
After every load (:func:`workbench.store.loading.load_paths`), :func:`refine` classifies
each distinct failure text not seen before with :mod:`workbench.feedback`'s rule tables
(the same rules, user rule files included, as bounce mail), keeps the result in
``bounce_texts``, and updates the events' ``bounce_reason`` / ``bounce_class``. Only the
distinct texts go through Python (hundreds per million events); the update is one join.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl

from workbench.feedback.classify import classify_record
from workbench.feedback.model import Delivery
from workbench.feedback.rules import RuleSet, site_rules
from workbench.sources.feedback import bounce_class
from workbench.store import load_sql

__all__ = ["classify_texts", "refine"]

#: events' mailbox_provider -> the provider of providers.yaml, when the names differ
PROVIDER_NAMES = {"gmail": "google"}


def classify_texts(pending: pl.DataFrame, rules: RuleSet | None = None) -> pl.DataFrame:
    """Classify failure texts (``text_key, diagnostic, enhanced_status, smtp_code,
    recipient_domain`` and optionally ``mailbox_provider``, whose rules then apply): adds
    ``reason, hard, bounce_class, rule`` (pure)."""
    rules = rules or site_rules()
    out = []
    for row in pending.iter_rows(named=True):
        domain = row["recipient_domain"] or "example.invalid"
        code = row["smtp_code"]
        d = Delivery(recipient=f"recipient@{domain}", status=row["enhanced_status"] or "",
                     reply_code=str(code) if code else "", diagnostic=row["diagnostic"] or "", spec="SMTP")
        # a domain the provider hosts (Workspace, Microsoft 365) is known by the event's provider
        named = row.get("mailbox_provider") or ""
        provider = rules.providers.get(PROVIDER_NAMES.get(named, named))
        if provider is not None and provider.hosts:
            d.remote_mta = provider.hosts[0].lstrip(".")
        b = classify_record(d, rules, "sendlog")
        out.append({**row, "reason": b.reason, "hard": b.hard, "bounce_class": bounce_class(b.reason, b.hard),
                    "rule": b.rule})
    schema: dict[str, pl.DataType] = {**dict(pending.schema), "reason": pl.Utf8(), "hard": pl.Boolean(),
                                      "bounce_class": pl.Utf8(), "rule": pl.Utf8()}
    return pl.DataFrame(out, schema=schema).drop("mailbox_provider", strict=False)


def refine(con: duckdb.DuckDBPyConnection, rules: RuleSet | None = None) -> int:
    """Classify the new failure texts and update the events (inside a write transaction);
    the number of new texts."""
    pending = con.sql(load_sql("bounce_texts_pending")).pl()
    if len(pending):
        done = classify_texts(pending, rules).with_columns(
            classified_at=pl.lit(datetime.now(UTC).replace(tzinfo=None)))
        con.register("new_texts", done)
        try:
            con.execute("INSERT INTO bounce_texts BY NAME SELECT * FROM new_texts ON CONFLICT DO NOTHING")
        finally:
            con.unregister("new_texts")
    con.execute(load_sql("bounce_texts_apply"))
    return len(pending)
