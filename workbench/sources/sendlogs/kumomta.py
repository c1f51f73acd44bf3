"""KumoMTA log records: one JSON object per line (KumoMTA writes zstd-compressed segments).

Record ``type``: ``Reception`` (injected), ``Delivery``, ``TransientFailure`` (deferred),
``Bounce``, ``Expiration`` (bounced: expired), ``AdminBounce`` (dropped), ``OOB``
(an out-of-band bounce), ``Feedback`` (an ARF complaint), ``Rejection`` (refused at
reception: dropped). ``response`` carries the SMTP reply (code, enhanced code, text),
``peer_address`` the remote MX, ``egress_pool`` / ``egress_source`` the pool and source used,
``bounce_classification`` KumoMTA's classifier verdict. Message-ID and campaign come from
logged headers (``log_parameters { headers = {...} }``), ``meta`` or the queue name
(``campaign:tenant@domain``).
"""

from __future__ import annotations

import re

import polars as pl

from workbench.sources.jsonengine import JsonEngine, rejects_from, structure
from workbench.sources.reader import LineChunk
from workbench.sources.sendlogs.base import Parsed, ParseOptions, epoch_or_iso

NAME = "kumomta"
DESCRIPTION = "KumoMTA JSON log records (one per line, plain, .gz or .zst)"

_FIELDS = {
    "type": "VARCHAR", "id": "VARCHAR", "sender": "VARCHAR", "recipient": "JSON", "queue": "VARCHAR",
    "site": "VARCHAR", "size": "BIGINT", "timestamp": "VARCHAR", "created": "VARCHAR", "num_attempts": "INTEGER",
    "response": {
        "code": "INTEGER", "content": "VARCHAR", "command": "VARCHAR",
        "enhanced_code": {"class": "INTEGER", "subject": "INTEGER", "detail": "INTEGER"},
    },
    "peer_address": {"name": "VARCHAR", "addr": "VARCHAR"},
    "bounce_classification": "VARCHAR", "egress_pool": "VARCHAR", "egress_source": "VARCHAR",
    "source_address": "JSON", "feedback_report": "JSON", "meta": "JSON", "headers": "JSON",
}
_EVENTS = {
    "Reception": "injected", "Delivery": "delivered", "TransientFailure": "deferred", "Bounce": "bounced",
    "Expiration": "bounced", "AdminBounce": "dropped", "OOB": "bounced", "Feedback": "complained",
    "Rejection": "dropped",
}
_IGNORED = ("DeferredInjection", "Delayed", "Any")
# KumoMTA's bounce classifications (the Momentum / PowerMTA bounce categories)
_CLASSIFICATION = {
    "InvalidRecipient": ("hard", "userunknown"), "BadDomain": ("hard", "hostunknown"),
    "InactiveMailbox": ("hard", "suspend"), "QuotaIssues": ("soft", "mailboxfull"),
    "SpamBlock": ("block", "blocked"), "SpamContent": ("block", "spamdetected"),
    "PolicyRelated": ("block", "policyviolation"), "VirusRelated": ("block", "virusdetected"),
    "ContentRelated": ("block", "contenterror"), "AuthFailure": ("block", "authfailure"),
    "MessageExpired": ("soft", "expired"), "NoAnswerFromHost": ("soft", "networkerror"),
    "BadConnection": ("soft", "networkerror"), "ProtocolErrors": ("soft", "systemerror"),
    "RoutingErrors": ("soft", "systemerror"), "BadConfiguration": ("soft", "systemerror"),
    "TransientFailure": ("soft", None), "Uncategorized": (None, None),
}

_SQL = f"""
WITH parsed AS (
    SELECT line_no, line, try(json_transform(line, {structure(_FIELDS)})) AS j FROM chunk
), rcpt AS (
    SELECT *, CASE json_type(j.recipient)
                WHEN 'ARRAY' THEN from_json(j.recipient, '["VARCHAR"]')
                ELSE [json_extract_string(j.recipient, '$')] END AS rcpts
    FROM parsed
)
SELECT
    line_no, line, j.type AS raw_event,
    coalesce(j.timestamp, j.created) AS ts_text,
    CASE WHEN j.type = 'Feedback' THEN coalesce(json_extract_string(j.feedback_report, '$.original_rcpt_to'), r)
         ELSE r END AS recipient,
    j.sender AS sender,
    trim(coalesce(json_extract_string(j.headers, '$."Message-ID"'), json_extract_string(j.headers, '$."Message-Id"'),
                  json_extract_string(j.headers, '$."message-id"'), json_extract_string(j.meta, '$.message_id'), j.id), '<> ')
        AS message_id,
    coalesce(json_extract_string(j.meta, '$.campaign'), json_extract_string(j.meta, '$.campaign_id'),
             json_extract_string(j.headers, '$."X-Campaign-ID"'),
             CASE WHEN contains(j.queue, ':') THEN split_part(j.queue, ':', 1) END) AS campaign_id,
    json_extract_string(j.meta, '$.contact_id') AS contact_id,
    CASE WHEN j.type NOT IN ('Reception', 'Feedback') THEN j.response.code END AS smtp_code,
    CASE WHEN j.response.enhanced_code.class IS NOT NULL THEN
        j.response.enhanced_code.class || '.' || j.response.enhanced_code.subject || '.' || j.response.enhanced_code.detail
    END AS enhanced_status,
    CASE WHEN j.type IN ('Reception', 'Feedback') THEN NULL
         WHEN j.response.code IS NOT NULL AND coalesce(j.response.content, '') <> '' THEN
        j.response.code::VARCHAR || ' ' ||
        CASE WHEN j.response.enhanced_code.class IS NOT NULL THEN
            j.response.enhanced_code.class || '.' || j.response.enhanced_code.subject || '.' || j.response.enhanced_code.detail || ' '
        ELSE '' END || coalesce(j.response.content, '')
    ELSE j.response.content END AS diagnostic,
    rtrim(j.peer_address.name, '.') AS remote_mta,
    j.egress_pool AS ip_pool,
    j.egress_source AS mta_instance,
    regexp_extract(coalesce(json_extract_string(j.feedback_report, '$.source_ip'),
                            json_extract_string(j.source_address, '$.address'),
                            json_extract_string(j.source_address, '$')), '^\\[?([0-9a-fA-F.:]+?)\\]?(:\\d+)?$', 1) AS source_ip,
    j.bounce_classification AS classification,
    json_extract_string(j.feedback_report, '$.feedback_type') AS feedback_type,
    json_extract_string(j.feedback_report, '$.user_agent') AS feedback_agent,
    line || '|' || coalesce(r, '') AS key
FROM rcpt LEFT JOIN LATERAL (SELECT unnest(rcpts) AS r) ON true
"""


def sniff(head: str) -> bool:
    """True for KumoMTA log records (a ``type`` of KumoMTA's and its ``queue``/``site`` fields)."""
    first = head.lstrip()[:1]
    return first == "{" and bool(
        re.search(r'"type"\s*:\s*"(Reception|Delivery|Bounce|TransientFailure|Expiration|AdminBounce|OOB|Feedback|Rejection)"', head)
        and re.search(r'"(queue|site|egress_pool|egress_source)"\s*:', head)
    )


class Parser:
    """KumoMTA records, line by line."""

    def __init__(self, options: ParseOptions | None = None) -> None:
        self.options = options or ParseOptions()
        self.engine = JsonEngine()

    def feed(self, chunk: LineChunk) -> Parsed:
        return self._records(chunk.lines, "line")

    def _records(self, chunk: pl.DataFrame, unit: str) -> Parsed:
        rows = self.engine.run(_SQL, chunk=chunk).with_columns(ts=epoch_or_iso(pl.col("ts_text")))
        bad = rows.filter(pl.col("raw_event").is_null() | pl.col("ts").is_null()).unique("line_no", maintain_order=True)
        rejects = rejects_from(bad, "not a KumoMTA log record (malformed JSON, or no type / timestamp)", unit)
        rows = rows.filter(pl.col("raw_event").is_not_null() & pl.col("ts").is_not_null() & ~pl.col("raw_event").is_in(_IGNORED))
        unknown = rows.filter(~pl.col("raw_event").is_in(list(_EVENTS))).unique("line_no", maintain_order=True)
        rejects += rejects_from(unknown, "unknown KumoMTA record type", unit)
        rows = rows.filter(pl.col("raw_event").is_in(list(_EVENTS)))
        klass = pl.col("classification").replace_strict({k: v[0] for k, v in _CLASSIFICATION.items()}, default=None)
        reason = pl.col("classification").replace_strict({k: v[1] for k, v in _CLASSIFICATION.items()}, default=None)
        failed = pl.col("raw_event").is_in(["Bounce", "TransientFailure", "Expiration", "AdminBounce", "OOB", "Rejection"])
        events = rows.with_columns(
            event_type=pl.col("raw_event").replace_strict(_EVENTS),
            sending_ip=pl.col("source_ip").replace("", None),
            bounce_class=pl.when(pl.col("raw_event") == "Expiration").then(pl.lit("soft"))
            .when(pl.col("raw_event").is_in(["AdminBounce", "Rejection"])).then(pl.lit("admin"))
            .when(failed).then(klass).otherwise(None),
            bounce_reason=pl.when(pl.col("raw_event") == "Expiration").then(pl.lit("expired"))
            .when(failed).then(reason).otherwise(None),
            user_agent=pl.col("feedback_agent"),
            remote_mta=pl.when(pl.col("raw_event") == "Reception").then(None).otherwise(pl.col("remote_mta")),
        )
        return Parsed.of(events, rejects)

    def finish(self) -> Parsed:
        return Parsed()
