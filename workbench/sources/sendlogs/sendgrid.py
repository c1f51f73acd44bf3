"""SendGrid Event Webhook: the JSON events SendGrid POSTs (an array per request), saved as
one file per request or one event per line.

Event names follow SendGrid's documentation: ``processed`` (injected), ``delivered``,
``deferred``, ``bounce`` (``type`` = ``bounce`` or ``blocked``), ``dropped``, ``open``
(``sg_machine_open`` marks Apple Mail Privacy Protection prefetches), ``click``,
``spamreport`` (complained), ``unsubscribe`` and ``group_unsubscribe``. ``sg_event_id`` keys
each event, so a webhook delivered twice is loaded once. Custom arguments set at send time
(``campaign_id``, ``contact_id``) arrive as top-level fields. ``ip`` is the sending IP for
delivery events and the reader's IP for opens and clicks.
"""

from __future__ import annotations

import re

import polars as pl

from workbench.sources.jsonengine import JsonEngine, document_records, rejects_from, structure
from workbench.sources.reader import LineChunk
from workbench.sources.sendlogs.base import Parsed, ParseOptions

NAME = "sendgrid"
DESCRIPTION = "SendGrid Event Webhook JSON (array per request, or one event per line)"

_FIELDS = {
    "event": "VARCHAR", "email": "VARCHAR", "timestamp": "DOUBLE", "smtp-id": "VARCHAR",
    "sg_event_id": "VARCHAR", "sg_message_id": "VARCHAR", "response": "VARCHAR", "reason": "VARCHAR",
    "status": "VARCHAR", "type": "VARCHAR", "ip": "VARCHAR", "useragent": "VARCHAR", "url": "VARCHAR",
    "sg_machine_open": "BOOLEAN", "bounce_classification": "VARCHAR", "campaign_id": "VARCHAR",
    "contact_id": "VARCHAR", "marketing_campaign_id": "VARCHAR", "pool": "JSON",
}
_EVENTS = {
    "processed": "injected", "delivered": "delivered", "deferred": "deferred", "bounce": "bounced",
    "dropped": "dropped", "open": "opened", "click": "clicked", "spamreport": "complained",
    "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed",
}
_IGNORED = ("group_resubscribe",)
_CLASSIFICATION = {
    "Invalid Address": ("hard", "userunknown"), "Mailbox Unavailable": ("soft", "mailboxfull"),
    "Technical": ("soft", "systemerror"), "Content": ("block", "contenterror"),
    "Reputation": ("block", "badreputation"), "Frequency or Volume": ("block", "speeding"),
    "Unclassified": (None, None),
}

_SQL = f"""
WITH parsed AS (
    SELECT line_no, line, try(json_transform(line, {structure(_FIELDS)})) AS j FROM chunk
)
SELECT
    line_no, line,
    j.event AS raw_event,
    to_timestamp(j.timestamp)::TIMESTAMP AS ts,
    j.email AS recipient,
    coalesce(nullif(split_part(j.sg_message_id, '.', 1), ''), trim(j."smtp-id", '<> ')) AS message_id,
    coalesce(j.campaign_id, j.marketing_campaign_id) AS campaign_id,
    j.contact_id AS contact_id,
    CASE WHEN j.event IN ('open', 'click') THEN NULL ELSE j.ip END AS sending_ip,
    CASE WHEN j.event IN ('open', 'click') THEN j.ip END AS client_ip,
    coalesce(j.response, j.reason) AS diagnostic,
    CASE WHEN j.status SIMILAR TO '[245]\\.[0-9]+\\.[0-9]+' THEN j.status END AS enhanced_status,
    j.useragent AS user_agent,
    j.url AS url,
    j.sg_machine_open AS is_machine,
    j.type AS bounce_type,
    j.bounce_classification AS classification,
    json_extract_string(j.pool, '$.name') AS ip_pool,
    coalesce(j.sg_event_id, line) AS key
FROM parsed
"""


def sniff(head: str) -> bool:
    """True for SendGrid webhook JSON (``sg_event_id`` / ``sg_message_id`` fields)."""
    start = head.lstrip()[:1]
    return start in ("[", "{") and bool(re.search(r'"sg_(event|message)_id"\s*:', head))


class Parser:
    """SendGrid webhook events, line by line or as whole documents."""

    def __init__(self, options: ParseOptions | None = None) -> None:
        self.options = options or ParseOptions()
        self.engine = JsonEngine()

    def feed(self, chunk: LineChunk) -> Parsed:
        return self._records(chunk.lines, "line")

    def _records(self, chunk: pl.DataFrame, unit: str) -> Parsed:
        rows = self.engine.run(_SQL, chunk=chunk)
        unreadable = rows.filter(pl.col("raw_event").is_null() | pl.col("ts").is_null())
        rejects = rejects_from(unreadable, "not a SendGrid event (malformed JSON, or no event / timestamp)", unit)
        rows = rows.filter(pl.col("raw_event").is_not_null() & pl.col("ts").is_not_null())
        rows = rows.filter(~pl.col("raw_event").is_in(_IGNORED))
        unknown = rows.filter(~pl.col("raw_event").is_in(list(_EVENTS)))
        rejects += rejects_from(unknown, "unknown SendGrid event name", unit)
        rows = rows.filter(pl.col("raw_event").is_in(list(_EVENTS)))
        classes = pl.col("classification").replace_strict({k: v[0] for k, v in _CLASSIFICATION.items()}, default=None)
        reasons = pl.col("classification").replace_strict({k: v[1] for k, v in _CLASSIFICATION.items()}, default=None)
        events = rows.with_columns(
            event_type=pl.col("raw_event").replace_strict(_EVENTS),
            bounce_class=pl.when(pl.col("bounce_type") == "blocked").then(pl.lit("block")).otherwise(classes),
            bounce_reason=pl.when((pl.col("bounce_type") == "blocked") & reasons.is_null()).then(pl.lit("blocked")).otherwise(reasons),
        )
        return Parsed.of(events, rejects)

    def parse_document(self, data: bytes) -> Parsed:
        records, rejects = document_records(data, self.options.source)
        parsed = self._records(records, "record") if len(records) else Parsed()
        parsed.rejects[:0] = rejects
        return parsed

    def finish(self) -> Parsed:
        return Parsed()
