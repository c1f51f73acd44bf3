"""PowerMTA accounting files: CSV with a header line naming the fields of each record.

The first column is always the record ``type``: ``r`` (received: injected), ``d``
(delivered), ``t`` (transient failure: deferred), ``b`` (bounced), ``rb`` (remote bounce,
an asynchronous DSN), ``f`` (feedback loop complaint); ``tq`` and ``rs`` records are read
and ignored. Fields are taken by name, case-insensitively, whatever the configured
``record-fields``: ``timeLogged``, ``orig``, ``rcpt``, ``dsnStatus``, ``dsnDiag``, ``dsnMta``,
``bounceCat``, ``dlvSourceIp``, ``vmta``, ``vmtaPool``, ``jobId``, ``header_Message-Id``,
``header_X-Campaign-ID``, and for feedback records ``feedbackType``, ``userAgent``.
Times may be UNIX ``time_t`` or formatted (``2026-11-27 08:43:05+0000``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from workbench.sources.sendlogs.base import quote_ident, ts_sql
from workbench.sources.sqlparse import Head, Query

NAME = "pmta"
DESCRIPTION = "PowerMTA accounting CSV (header-driven, any record-fields)"
INPUT = "records"
#: each record parses on its own (small files may be parsed in groups)
ROW_LOCAL = True
LOWER_HEADER = True

_TYPES = {
    "r": "injected", "d": "delivered", "t": "deferred", "b": "bounced", "rb": "bounced", "f": "complained",
    "delivery": "delivered", "bounce": "bounced", "transient": "deferred", "receipt": "injected",
    "feedback-loop": "complained", "remote-bounce": "bounced",
}
_IGNORED = ("tq", "rs", "transient-queue", "remote-status")
# PowerMTA bounce categories -> (class, reason)
_CATEGORIES = {
    "bad-mailbox": ("hard", "userunknown"), "bad-domain": ("hard", "hostunknown"),
    "inactive-mailbox": ("hard", "suspend"), "quota-issues": ("soft", "mailboxfull"),
    "spam-related": ("block", "spamdetected"), "policy-related": ("block", "policyviolation"),
    "virus-related": ("block", "virusdetected"), "content-related": ("block", "contenterror"),
    "message-expired": ("soft", "expired"), "no-answer-from-host": ("soft", "networkerror"),
    "bad-connection": ("soft", "networkerror"), "routing-errors": ("soft", "systemerror"),
    "protocol-errors": ("soft", "systemerror"), "bad-configuration": ("soft", "systemerror"),
    "relaying-issues": ("block", "rejected"), "other": (None, None),
}


def sniff(head: str) -> bool:
    """True when the first line is a PowerMTA accounting header (``type,timeLogged,...``)."""
    first = head.split("\n", 1)[0].strip().lower()
    names = [n.strip('" ') for n in first.split(",")]
    return bool(names) and names[0] == "type" and "timelogged" in names and ("rcpt" in names or "orig" in names)


def _case(column: str, mapping: Mapping[str, str | None]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items() if v is not None)
    return f"CASE {column} {whens} END"


def query(options: Any, head: Head) -> Query:
    """The parser: PowerMTA accounting ``records`` (fields by lower-cased header name)."""
    columns = head.columns

    def col(*names: str) -> str:
        for name in names:
            if name in columns:
                return f"nullif(trim({quote_ident(name)}), '')"
        return "NULL::VARCHAR"

    first = head.first_record()
    sample = first[columns.index("timelogged")] if "timelogged" in columns and len(first) == len(columns) else None
    fields = ", ".join(f"coalesce({quote_ident(c)}, '')" for c in columns)
    failed = "('b', 'rb', 't', 'bounce', 'transient', 'remote-bounce')"
    sql = f"""
WITH rec AS (
    SELECT _line_no, coalesce(_line, concat_ws(',', {fields})) AS line, concat_ws(chr(31), {fields}) AS key,
        lower({col("type")}) AS raw_type, {col("timelogged")} AS ts_text, {col("bouncecat")} AS category, *
    FROM records
), typed AS (
    SELECT *, {ts_sql("ts_text", sample)} AS ts FROM rec
)
SELECT
    _line_no AS line_no, line, key, ts,
    CASE WHEN raw_type IN {_IGNORED} THEN ''
         WHEN raw_type IS NULL OR raw_type NOT IN {tuple(_TYPES)} OR ts IS NULL
         THEN 'not a PowerMTA accounting record (unknown type or unreadable timeLogged)' END AS reject,
    {_case("raw_type", _TYPES)} AS event_type,
    {col("orig")} AS sender,
    {col("rcpt")} AS recipient,
    nullif(regexp_extract({col("dsnstatus")}, '^(\\d\\.\\d{{1,3}}\\.\\d{{1,3}})', 1), '') AS enhanced_status,
    regexp_replace({col("dsndiag")}, '^smtp;\\s*', '') AS diagnostic,
    nullif(regexp_extract({col("dsnmta")}, '^([^\\s(]+)', 1), '') AS remote_mta,
    {col("dlvsourceip")} AS sending_ip,
    {col("vmta")} AS mta_instance,
    {col("vmtapool")} AS ip_pool,
    coalesce({col("header_x-campaign-id")}, {col("jobid")}, {col("header_x-job")}) AS campaign_id,
    trim({col("header_message-id")}, '<> ') AS message_id,
    {col("useragent")} AS user_agent,
    CASE WHEN raw_type IN {failed} THEN {_case("lower(category)", {k: v[0] for k, v in _CATEGORIES.items()})} END AS bounce_class,
    CASE WHEN raw_type IN {failed} THEN {_case("lower(category)", {k: v[1] for k, v in _CATEGORIES.items()})} END AS bounce_reason
FROM typed
"""
    return Query(sql)


def header_pattern() -> re.Pattern[str]:
    """The header names a PowerMTA file must have (for documentation and tests)."""
    return re.compile(r"^type,.*timelogged", re.IGNORECASE)
