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
from typing import Any

from workbench.sources.sqlparse import Head, Query

NAME = "sendgrid"
DESCRIPTION = "SendGrid Event Webhook JSON (array per request, or one event per line)"
INPUT = "json"
#: each record parses on its own (small files may be parsed in groups)
ROW_LOCAL = True

FIELDS = {
    "event": "VARCHAR", "email": "VARCHAR", "timestamp": "DOUBLE", "smtp-id": "VARCHAR",
    "sg_event_id": "VARCHAR", "sg_message_id": "VARCHAR", "response": "VARCHAR", "reason": "VARCHAR",
    "status": "VARCHAR", "type": "VARCHAR", "ip": "VARCHAR", "useragent": "VARCHAR", "url": "VARCHAR",
    "sg_machine_open": "BOOLEAN", "bounce_classification": "VARCHAR", "campaign_id": "VARCHAR",
    "contact_id": "VARCHAR", "marketing_campaign_id": "VARCHAR", "pool": {"name": "VARCHAR"},
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
}


def _case(column: str, mapping: dict[str, Any]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    return f"CASE {column} {whens} END"


# a record without sg_event_id (older webhooks) is known by its content
_CONTENT = "concat_ws(chr(31), event, email, timestamp::VARCHAR, sg_message_id, \"smtp-id\", response, reason, status, ip, useragent, url)"

_SQL = f"""
WITH typed AS (
    SELECT *, make_timestamp(TRY_CAST(timestamp * 1000000 AS BIGINT)) AS ts FROM records
)
SELECT
    _line_no AS line_no, _line AS line,
    CASE WHEN event IS NULL OR ts IS NULL THEN 'not a SendGrid event (malformed JSON, or no event / timestamp)'
         WHEN event IN {(*_IGNORED, '')} THEN ''
         WHEN event NOT IN {tuple(_EVENTS)} THEN 'unknown SendGrid event name' END AS reject,
    ts,
    {_case("event", _EVENTS)} AS event_type,
    email AS recipient,
    coalesce(nullif(CASE WHEN contains(sg_message_id, '.') THEN substr(sg_message_id, 1, strpos(sg_message_id, '.') - 1)
                         ELSE sg_message_id END, ''), trim("smtp-id", '<> ')) AS message_id,
    coalesce(campaign_id, marketing_campaign_id) AS campaign_id,
    contact_id AS contact_id,
    CASE WHEN event IN ('open', 'click') THEN NULL ELSE ip END AS sending_ip,
    CASE WHEN event IN ('open', 'click') THEN ip END AS client_ip,
    coalesce(response, reason) AS diagnostic,
    CASE WHEN regexp_full_match(status, '[245]\\.[0-9]+\\.[0-9]+') THEN status END AS enhanced_status,
    useragent AS user_agent,
    url AS url,
    sg_machine_open AS is_machine,
    CASE WHEN type = 'blocked' THEN 'block' ELSE {_case("bounce_classification", {k: v[0] for k, v in _CLASSIFICATION.items()})} END
        AS bounce_class,
    coalesce({_case("bounce_classification", {k: v[1] for k, v in _CLASSIFICATION.items()})},
             CASE WHEN type = 'blocked' THEN 'blocked' END) AS bounce_reason,
    pool.name AS ip_pool,
    coalesce(sg_event_id, {_CONTENT}) AS key
FROM typed
"""


def sniff(head: str) -> bool:
    """True for SendGrid webhook JSON (``sg_event_id`` / ``sg_message_id`` fields)."""
    start = head.lstrip()[:1]
    return start in ("[", "{") and bool(re.search(r'"sg_(event|message)_id"\s*:', head))


def query(options: Any, head: Head) -> Query:
    """The parser: SendGrid event ``records`` (the JSON fields of :data:`FIELDS`)."""
    return Query(_SQL)
