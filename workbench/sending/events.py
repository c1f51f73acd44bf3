"""The sender's events: every injection, deferral, bounce, drop and failure, into ``events``.

Each event carries the message, campaign, contact, recipient, envelope sender, sending
domain (subdomain), IP and pool used, the relay (``remote_mta``), the SMTP reply and the
attempt; ``source`` is ``workbench-send`` and ``source_key`` is the md5 of
``wb|message_id|event|attempt``, so recording the same outcome twice adds nothing. The
rows go through the loaders' own insert (``insert_events.sql``): mailbox provider from the
recipient domain, bounce class and reason from the reply (:func:`conform`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.sources.events import conform
from workbench.store import load_sql

if TYPE_CHECKING:
    from workbench.sending.campaign import Campaign
    from workbench.sending.ledger import Outcome

__all__ = ["SOURCE", "insert_events"]

SOURCE = "workbench-send"


def insert_events(con: Any, outcomes: Sequence[Outcome], now: datetime, campaign: Campaign) -> int:
    """Insert the events of ``outcomes`` (inside the caller's transaction); how many."""
    if not outcomes:
        return 0
    keys = [o.ledger_key for o in outcomes]
    ledger = con.sql("SELECT ledger_key, contact_id, recipient, sending_ip, ip_pool, attempts FROM send_ledger "
                     "WHERE ledger_key IN (SELECT unnest($k))", params={"k": keys}).pl()
    info = {row[0]: row for row in ledger.iter_rows()}
    rows = []
    for o in outcomes:
        _, contact, recipient, ip, pool, attempts = info.get(o.ledger_key, (None,) * 6)
        fields = dict(o.event_fields)
        rows.append({
            "ts": fields.pop("ts", now), "event_type": o.event, "message_id": o.message_id,
            "campaign_id": campaign.campaign_id, "contact_id": contact, "recipient": recipient,
            "sender": fields.pop("sender", None), "sending_domain": campaign.sending_domain, "sending_ip": ip,
            "ip_pool": pool or campaign.ip_pool, "smtp_code": o.smtp_code, "mta_instance": "workbench",
            "key": f"wb|{o.message_id}|{o.event}|{attempts}", **fields,
        })
    frame = conform(pl.DataFrame(rows, infer_schema_length=None), clean=False)
    frame = frame.with_columns(sending_domain=pl.lit(campaign.sending_domain))
    con.register("outgoing_events", frame.to_arrow())
    try:  # recording the same outcome twice adds nothing: only keys not in events yet
        con.execute("CREATE OR REPLACE TEMP TABLE batch AS SELECT * FROM outgoing_events b WHERE NOT EXISTS "
                    "(SELECT 1 FROM events e WHERE e.source = $source AND e.source_key = md5_number(b.key))",
                    {"source": SOURCE})
        row = con.execute(load_sql("insert_events"),
                          {"source": SOURCE, "source_file": f"send:{campaign.campaign_id}", "load_id": None}).fetchone()
        con.execute("DROP TABLE batch")
    finally:
        con.unregister("outgoing_events")
    return int(row[0]) if row else 0
