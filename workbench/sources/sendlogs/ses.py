"""Amazon SES event publishing and notifications: JSON events, raw (Firehose, one per line)
or wrapped in SNS notifications (``{"Type": "Notification", "Message": "<event JSON>"}``),
one per line or one per file.

``eventType`` (event publishing) or ``notificationType`` (feedback notifications):
``Send`` (injected), ``Delivery``, ``Bounce`` (``bounceType`` Permanent / Transient /
Undetermined with its subtype), ``Complaint``, ``DeliveryDelay`` (deferred), ``Reject`` and
``Rendering Failure`` (dropped), ``Open``, ``Click``, ``Subscription`` (unsubscribed). An
event has one row per recipient it concerns (``bouncedRecipients``, ``delivery.recipients``,
...). The SNS ``MessageId`` keys a notification, so a redelivered notification loads once.
``message_id`` is SES's own message id, which every event of a message carries (the
RFC 5322 Message-ID appears only where headers were included). Message tags carry the campaign (``campaign`` / ``campaign_id``) and SES's auto-tags the
sending IP (``ses:outgoing-ip``) and configuration set.
"""

from __future__ import annotations

import re

import polars as pl

from workbench.sources.jsonengine import JsonEngine, document_records, rejects_from, structure
from workbench.sources.reader import LineChunk
from workbench.sources.sendlogs.base import Parsed, ParseOptions, epoch_or_iso

NAME = "ses"
DESCRIPTION = "Amazon SES event publishing / notifications JSON (raw or SNS-wrapped)"

_RCPT_STATUS = [{"emailAddress": "VARCHAR", "action": "VARCHAR", "status": "VARCHAR", "diagnosticCode": "VARCHAR"}]
_FIELDS = {
    "eventType": "VARCHAR",
    "notificationType": "VARCHAR",
    "mail": {
        "timestamp": "VARCHAR", "messageId": "VARCHAR", "source": "VARCHAR", "destination": ["VARCHAR"],
        "headers": [{"name": "VARCHAR", "value": "VARCHAR"}], "tags": "JSON",
    },
    "bounce": {
        "bounceType": "VARCHAR", "bounceSubType": "VARCHAR", "timestamp": "VARCHAR",
        "reportingMTA": "VARCHAR", "remoteMtaIp": "VARCHAR", "bouncedRecipients": _RCPT_STATUS,
    },
    "complaint": {
        "timestamp": "VARCHAR", "complaintFeedbackType": "VARCHAR", "userAgent": "VARCHAR",
        "complainedRecipients": [{"emailAddress": "VARCHAR"}],
    },
    "delivery": {
        "timestamp": "VARCHAR", "recipients": ["VARCHAR"], "smtpResponse": "VARCHAR",
        "reportingMTA": "VARCHAR", "remoteMtaIp": "VARCHAR",
    },
    "deliveryDelay": {
        "timestamp": "VARCHAR", "delayType": "VARCHAR", "reportingMTA": "VARCHAR", "delayedRecipients": _RCPT_STATUS,
    },
    "reject": {"reason": "VARCHAR"},
    "failure": {"errorMessage": "VARCHAR"},
    "open": {"timestamp": "VARCHAR", "ipAddress": "VARCHAR", "userAgent": "VARCHAR"},
    "click": {"timestamp": "VARCHAR", "ipAddress": "VARCHAR", "userAgent": "VARCHAR", "link": "VARCHAR"},
    "subscription": {"timestamp": "VARCHAR"},
}
_ENVELOPE = {"Type": "VARCHAR", "MessageId": "VARCHAR", "Message": "VARCHAR"}
_EVENTS = {
    "Send": "injected", "Delivery": "delivered", "Bounce": "bounced", "Complaint": "complained",
    "DeliveryDelay": "deferred", "Reject": "dropped", "Rendering Failure": "dropped",
    "RenderingFailure": "dropped", "Open": "opened", "Click": "clicked", "Subscription": "unsubscribed",
}

_SQL = f"""
WITH env AS (
    SELECT line_no, line, try(json_transform(line, {structure(_ENVELOPE)})) AS e FROM chunk
), body AS (
    SELECT line_no, line, e.MessageId AS sns_id,
           CASE WHEN e.Type = 'Notification' THEN e.Message ELSE line END AS body
    FROM env
), parsed AS (
    SELECT line_no, line, sns_id, body, try(json_transform(body, {structure(_FIELDS)})) AS j FROM body
), typed AS (
    SELECT *, coalesce(j.eventType, j.notificationType) AS raw_event FROM parsed
), rcpts AS (
    SELECT typed.*,
        CASE raw_event
            WHEN 'Bounce' THEN [{{'addr': r.emailAddress, 'status': r.status, 'diag': r.diagnosticCode}}
                                 FOR r IN j.bounce.bouncedRecipients]
            WHEN 'DeliveryDelay' THEN [{{'addr': r.emailAddress, 'status': r.status, 'diag': r.diagnosticCode}}
                                 FOR r IN j.deliveryDelay.delayedRecipients]
            WHEN 'Complaint' THEN [{{'addr': r.emailAddress, 'status': NULL::VARCHAR, 'diag': NULL::VARCHAR}}
                                 FOR r IN j.complaint.complainedRecipients]
            WHEN 'Delivery' THEN [{{'addr': r, 'status': NULL::VARCHAR, 'diag': j.delivery.smtpResponse}}
                                 FOR r IN j.delivery.recipients]
            ELSE [{{'addr': r, 'status': NULL::VARCHAR, 'diag': NULL::VARCHAR}} FOR r IN j.mail.destination]
        END AS who
    FROM typed
)
SELECT
    line_no, line, raw_event,
    coalesce(j.bounce.timestamp, j.complaint.timestamp, j.delivery.timestamp, j.deliveryDelay.timestamp,
             j.open.timestamp, j.click.timestamp, j.subscription.timestamp, j.mail.timestamp) AS ts_text,
    j.mail.messageId AS message_id_raw,
    coalesce(json_extract_string(j.mail.tags, '$.campaign[0]'),
             json_extract_string(j.mail.tags, '$.campaign_id[0]')) AS campaign_id,
    json_extract_string(j.mail.tags, '$.contact_id[0]') AS contact_id,
    json_extract_string(j.mail.tags, '$."ses:outgoing-ip"[0]') AS sending_ip,
    json_extract_string(j.mail.tags, '$."ses:from-domain"[0]') AS sending_domain,
    j.mail.source AS sender,
    w.addr AS recipient,
    w.status AS enhanced_status,
    coalesce(w.diag, j.reject.reason, j.failure.errorMessage) AS diagnostic,
    coalesce(j.bounce.remoteMtaIp, j.delivery.remoteMtaIp) AS remote_ip,
    replace(coalesce(j.bounce.reportingMTA, j.deliveryDelay.reportingMTA, j.delivery.reportingMTA), 'dsn; ', '') AS reporting_mta,
    j.bounce.bounceType AS bounce_type,
    j.bounce.bounceSubType AS bounce_subtype,
    coalesce(j.open.userAgent, j.click.userAgent, j.complaint.userAgent) AS user_agent,
    coalesce(j.open.ipAddress, j.click.ipAddress) AS client_ip,
    j.click.link AS url,
    coalesce(sns_id, md5(body)) || '|' || coalesce(w.addr, '') AS key
FROM rcpts LEFT JOIN LATERAL (SELECT unnest(who) AS w) ON true
"""


def sniff(head: str) -> bool:
    """True for SES events: ``eventType`` / ``notificationType`` with a ``mail`` object,
    bare or inside an SNS notification."""
    start = head.lstrip()[:1]
    if start not in ("[", "{"):
        return False
    bare = re.search(r'"(eventType|notificationType)"\s*:', head) and re.search(r'"mail"\s*:', head)
    wrapped = re.search(r'"Type"\s*:\s*"Notification"', head) and re.search(r'\\"(eventType|notificationType)\\"', head)
    return bool(bare or wrapped)


def _classes() -> tuple[pl.Expr, pl.Expr]:
    btype, sub = pl.col("bounce_type"), pl.col("bounce_subtype")
    klass = (
        pl.when(btype.is_null()).then(None)
        .when(sub.is_in(["Suppressed", "OnAccountSuppressionList"])).then(pl.lit("admin"))
        .when(sub.is_in(["ContentRejected", "AttachmentRejected"])).then(pl.lit("block"))
        .when(btype == "Permanent").then(pl.lit("hard"))
        .when(btype == "Transient").then(pl.lit("soft"))
        .otherwise(pl.lit("undetermined"))
    )
    reason = (
        pl.when(btype.is_null()).then(None)
        .when(sub.is_in(["Suppressed", "OnAccountSuppressionList"])).then(pl.lit("suppressed"))
        .when(sub == "NoEmail").then(pl.lit("userunknown"))
        .when(sub == "MailboxFull").then(pl.lit("mailboxfull"))
        .when(sub == "MessageTooLarge").then(pl.lit("mesgtoobig"))
        .when(sub.is_in(["ContentRejected", "AttachmentRejected"])).then(pl.lit("contenterror"))
        .otherwise(None)
    )
    return klass, reason


class Parser:
    """SES events, line by line or as whole documents (one notification per file)."""

    def __init__(self, options: ParseOptions | None = None) -> None:
        self.options = options or ParseOptions()
        self.engine = JsonEngine()

    def feed(self, chunk: LineChunk) -> Parsed:
        return self._records(chunk.lines, "line")

    def _records(self, chunk: pl.DataFrame, unit: str) -> Parsed:
        rows = self.engine.run(_SQL, chunk=chunk)
        rows = rows.with_columns(ts=epoch_or_iso(pl.col("ts_text")))
        bad = rows.filter(pl.col("raw_event").is_null() | pl.col("ts").is_null()).unique("line_no", maintain_order=True)
        rejects = rejects_from(bad, "not an SES event (malformed JSON, or no eventType / timestamp)", unit)
        rows = rows.filter(pl.col("raw_event").is_not_null() & pl.col("ts").is_not_null())
        unknown = rows.filter(~pl.col("raw_event").is_in(list(_EVENTS))).unique("line_no", maintain_order=True)
        rejects += rejects_from(unknown, "unknown SES event type", unit)
        rows = rows.filter(pl.col("raw_event").is_in(list(_EVENTS)))
        klass, reason = _classes()
        events = rows.with_columns(
            event_type=pl.col("raw_event").replace_strict(_EVENTS),
            message_id=pl.col("message_id_raw").str.strip_chars("<> "),
            remote_mta=pl.coalesce("remote_ip", "reporting_mta"),
            bounce_class=klass,
            bounce_reason=reason,
        ).with_columns(
            event_type=pl.when(pl.col("bounce_class") == "admin").then(pl.lit("dropped")).otherwise(pl.col("event_type"))
        )
        return Parsed.of(events, rejects)

    def parse_document(self, data: bytes) -> Parsed:
        records, rejects = document_records(data, self.options.source)
        parsed = self._records(records, "record") if len(records) else Parsed()
        parsed.rejects[:0] = rejects
        return parsed

    def finish(self) -> Parsed:
        return Parsed()
