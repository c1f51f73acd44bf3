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
from typing import Any

from workbench.sources.sendlogs.base import quote_ident, ts_sql
from workbench.sources.sqlparse import Head, Query

NAME = "kumomta"
DESCRIPTION = "KumoMTA JSON log records (one per line, plain, .gz or .zst)"
INPUT = "json"
#: each record parses on its own (small files may be parsed in groups)
ROW_LOCAL = True

FIELDS = _FIELDS = {
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

def _case(column: str, mapping: dict[str, str]) -> str:
    return f"CASE {column} " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items()) + " END"


_STRUCT = "{" + ", ".join(f"'{k}': {quote_ident(k)}" for k in _FIELDS) + "}"
_FAILED = ('Bounce', 'TransientFailure', 'Expiration', 'AdminBounce', 'OOB', 'Rejection')
_ENHANCED = "j.response.enhanced_code.class || '.' || j.response.enhanced_code.subject || '.' || j.response.enhanced_code.detail"

_SQL = f"""
WITH parsed AS (
    SELECT _line_no AS line_no, _line AS line, {_STRUCT} AS j FROM records
), typed AS (
    SELECT *, {{ts}} AS ts FROM parsed
), refused AS (
    SELECT *,
        CASE WHEN j.type IS NULL OR ts IS NULL THEN 'not a KumoMTA log record (malformed JSON, or no type / timestamp)'
             WHEN j.type IN {_IGNORED} THEN ''
             WHEN j.type NOT IN {tuple(_EVENTS)} THEN 'unknown KumoMTA record type' END AS reject,
        CASE WHEN json_type(j.recipient) = 'ARRAY' THEN from_json(j.recipient, '["VARCHAR"]')
             ELSE [json_extract_string(j.recipient, '$')] END AS rcpts
    FROM typed
)
SELECT
    line_no, line, reject, ts,
    {_case("j.type", _EVENTS)} AS event_type,
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
    CASE WHEN j.response.enhanced_code.class IS NOT NULL THEN {_ENHANCED} END AS enhanced_status,
    CASE WHEN j.type IN ('Reception', 'Feedback') THEN NULL
         WHEN j.response.code IS NOT NULL AND coalesce(j.response.content, '') <> '' THEN
        j.response.code::VARCHAR || ' ' ||
        CASE WHEN j.response.enhanced_code.class IS NOT NULL THEN {_ENHANCED} || ' ' ELSE '' END
        || coalesce(j.response.content, '')
    ELSE j.response.content END AS diagnostic,
    CASE WHEN j.type = 'Reception' THEN NULL ELSE rtrim(j.peer_address.name, '.') END AS remote_mta,
    j.egress_pool AS ip_pool,
    j.egress_source AS mta_instance,
    nullif(regexp_extract(coalesce(json_extract_string(j.feedback_report, '$.source_ip'),
                                   json_extract_string(j.source_address, '$.address'),
                                   json_extract_string(j.source_address, '$')),
                          '^\\[?([0-9a-fA-F.:]+?)\\]?(:\\d+)?$', 1), '') AS sending_ip,
    CASE WHEN j.type = 'Expiration' THEN 'soft'
         WHEN j.type IN ('AdminBounce', 'Rejection') THEN 'admin'
         WHEN j.type IN {_FAILED} THEN {_case("j.bounce_classification", {k: v[0] for k, v in _CLASSIFICATION.items() if v[0]})}
    END AS bounce_class,
    CASE WHEN j.type = 'Expiration' THEN 'expired'
         WHEN j.type IN {_FAILED} THEN {_case("j.bounce_classification", {k: v[1] for k, v in _CLASSIFICATION.items() if v[1]})}
    END AS bounce_reason,
    json_extract_string(j.feedback_report, '$.user_agent') AS user_agent,
    concat_ws('|', j.type, j.id, coalesce(j.timestamp, j.created), j.num_attempts::VARCHAR, j.queue, j.response.code::VARCHAR,
              j.response.content, j.feedback_report::VARCHAR) || '|' || coalesce(r, '') AS key
FROM (SELECT *, unnest(CASE WHEN reject IS NULL AND len(rcpts) > 0 THEN rcpts ELSE [NULL] END) AS r FROM refused) _r
"""


def sniff(head: str) -> bool:
    """True for KumoMTA log records (a ``type`` of KumoMTA's and its ``queue``/``site`` fields)."""
    first = head.lstrip()[:1]
    return first == "{" and bool(
        re.search(r'"type"\s*:\s*"(Reception|Delivery|Bounce|TransientFailure|Expiration|AdminBounce|OOB|Feedback|Rejection)"', head)
        and re.search(r'"(queue|site|egress_pool|egress_source)"\s*:', head)
    )


def query(options: Any, head: Head) -> Query:
    """The parser: KumoMTA log ``records`` (the JSON fields of :data:`FIELDS`); a record is
    known by its type, message id, time, attempt, queue and response (and recipient)."""
    sample = re.search(r'"timestamp"\s*:\s*"?([^",}]+)', head.text)
    return Query(_SQL.replace("{ts}", ts_sql("coalesce(j.timestamp, j.created)", sample.group(1) if sample else None)))
