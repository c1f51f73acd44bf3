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
from typing import Any

from workbench.sources.jsonengine import structure
from workbench.sources.sendlogs.base import quote_ident, ts_sql
from workbench.sources.sqlparse import Head, Query

NAME = "ses"
DESCRIPTION = "Amazon SES event publishing / notifications JSON (raw or SNS-wrapped)"
INPUT = "json"
#: each record parses on its own (small files may be parsed in groups)
ROW_LOCAL = True

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
#: the fields read from each line: an SNS envelope or a raw event
FIELDS = {**_FIELDS, **_ENVELOPE}
_EVENTS = {
    "Send": "injected", "Delivery": "delivered", "Bounce": "bounced", "Complaint": "complained",
    "DeliveryDelay": "deferred", "Reject": "dropped", "Rendering Failure": "dropped",
    "RenderingFailure": "dropped", "Open": "opened", "Click": "clicked", "Subscription": "unsubscribed",
}

_SUPPRESSED = "('Suppressed', 'OnAccountSuppressionList')"
_CONTENT = "('ContentRejected', 'AttachmentRejected')"
_CLASS_SQL = f"""CASE WHEN j.bounce.bounceType IS NULL THEN NULL
        WHEN j.bounce.bounceSubType IN {_SUPPRESSED} THEN 'admin'
        WHEN j.bounce.bounceSubType IN {_CONTENT} THEN 'block'
        WHEN j.bounce.bounceType = 'Permanent' THEN 'hard'
        WHEN j.bounce.bounceType = 'Transient' THEN 'soft'
        ELSE 'undetermined' END"""
_REASON_SQL = f"""CASE WHEN j.bounce.bounceType IS NULL THEN NULL
        WHEN j.bounce.bounceSubType IN {_SUPPRESSED} THEN 'suppressed'
        WHEN j.bounce.bounceSubType = 'NoEmail' THEN 'userunknown'
        WHEN j.bounce.bounceSubType = 'MailboxFull' THEN 'mailboxfull'
        WHEN j.bounce.bounceSubType = 'MessageTooLarge' THEN 'mesgtoobig'
        WHEN j.bounce.bounceSubType IN {_CONTENT} THEN 'contenterror' END"""


def _case(column: str, mapping: dict[str, str]) -> str:
    return f"CASE {column} " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items()) + " END"


#: the message tags read (campaign, campaign_id, contact_id, SES's outgoing IP and from-domain), in one parse
_TAG_PATHS = "['$.campaign[0]', '$.campaign_id[0]', '$.contact_id[0]', '$.\"ses:outgoing-ip\"[0]', '$.\"ses:from-domain\"[0]']"

_STRUCT = "{" + ", ".join(f"'{k}': {quote_ident(k)}" for k in _FIELDS) + "}"

_SQL = f"""
WITH body AS (
    SELECT _line_no, _line, CASE WHEN "Type" = 'Notification' THEN "MessageId" END AS sns_id,
           CASE WHEN "Type" = 'Notification' THEN try(json_transform("Message", {structure(_FIELDS)}))
                WHEN "Type" IS NULL THEN {_STRUCT} END AS j
    FROM records
), typed AS (
    SELECT *, coalesce(j.eventType, j.notificationType) AS raw_event,
        coalesce(j.bounce.timestamp, j.complaint.timestamp, j.delivery.timestamp, j.deliveryDelay.timestamp,
                 j.open.timestamp, j.click.timestamp, j.subscription.timestamp, j.mail.timestamp) AS ts_text
    FROM body
), rcpts AS (
    SELECT typed.*, {{ts}} AS ts,
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
), refused AS (
    SELECT *, CASE WHEN raw_event IS NULL OR ts IS NULL THEN 'not an SES event (malformed JSON, or no eventType / timestamp)'
                   WHEN raw_event NOT IN {tuple(_EVENTS)} THEN 'unknown SES event type' END AS reject,
           json_extract_string(j.mail.tags, {_TAG_PATHS}) AS wb_tags  -- the tags' JSON parsed once
    FROM rcpts
)
SELECT
    _line_no AS line_no, _line AS line, reject, ts,
    CASE WHEN j.bounce.bounceSubType IN ('Suppressed', 'OnAccountSuppressionList') THEN 'dropped'
         ELSE {_case("raw_event", _EVENTS)} END AS event_type,
    trim(j.mail.messageId, '<> ') AS message_id,
    coalesce(wb_tags[1], wb_tags[2]) AS campaign_id,
    wb_tags[3] AS contact_id,
    wb_tags[4] AS sending_ip,
    wb_tags[5] AS sending_domain,
    j.mail.source AS sender,
    w.addr AS recipient,
    w.status AS enhanced_status,
    coalesce(w.diag, j.reject.reason, j.failure.errorMessage) AS diagnostic,
    coalesce(j.bounce.remoteMtaIp, j.delivery.remoteMtaIp,
             replace(coalesce(j.bounce.reportingMTA, j.deliveryDelay.reportingMTA, j.delivery.reportingMTA), 'dsn; ', ''))
        AS remote_mta,
    {_CLASS_SQL} AS bounce_class,
    {_REASON_SQL} AS bounce_reason,
    coalesce(j.open.userAgent, j.click.userAgent, j.complaint.userAgent) AS user_agent,
    coalesce(j.open.ipAddress, j.click.ipAddress) AS client_ip,
    j.click.link AS url,
    coalesce(sns_id, concat_ws('|', j.mail.messageId, raw_event, ts_text)) || '|' || coalesce(w.addr, '') AS key
FROM (SELECT *, unnest(CASE WHEN reject IS NULL AND len(who) > 0 THEN who ELSE [NULL] END) AS w FROM refused) _w
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


def query(options: Any, head: Head) -> Query:
    """The parser: SES event ``records`` (raw, or SNS envelopes whose message is parsed here)."""
    sample = re.search(r'"timestamp"\s*:\s*"([^"]+)"', head.text)
    return Query(_SQL.replace("{ts}", ts_sql("ts_text", sample.group(1) if sample else None)))
