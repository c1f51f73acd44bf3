"""Postfix ``maillog``: delivery status lines joined to their message by queue id.

Reads the lines Postfix's daemons write through syslog, in the traditional
(``Nov 27 08:43:05 host postfix/smtp[123]: ...``) or the RFC 3339 stamp
(``2026-11-27T08:43:05.123456+00:00 host ...``):

- ``cleanup``: ``QUEUEID: message-id=<...>``
- ``cleanup``: ``QUEUEID: info: header X-Campaign-ID: c12 from ...`` (``header_checks`` INFO)
- ``qmgr``: ``QUEUEID: from=<sender>, size=N, nrcpt=N (queue active)``
- ``smtp`` / ``lmtp`` / ``local`` / ``virtual`` / ``error``:
  ``QUEUEID: to=<rcpt>, relay=host[ip]:port, delay=…, dsn=X.Y.Z, status=sent|deferred|bounced (reply)``
- ``qmgr``: ``QUEUEID: from=<sender>, status=expired, returned to sender``

Each status line becomes a delivered / deferred / bounced event; the first attempt of a
recipient also yields an ``injected`` event at the time ``cleanup`` enqueued the message
(logged once per message, unlike ``qmgr``'s line, which repeats at every retry); a message
enqueued before the file began was injected in an earlier file. An expired message bounces
every recipient whose last attempt was deferred. The multi-instance syslog name
(``postfix-news1/smtp``) is kept as ``mta_instance`` so that the store can map it to the
sending IP. Other lines are ignored; a line that looks like a status line but cannot be read
(no time stamp or queue id) is rejected.

The parser is one query over the file's lines: one scan splits the relevant lines into
words (no backtracking regular expressions), keeps the few fields each kind of line gives,
and joins status lines to their message's facts by host and queue id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from workbench.sources.sqlparse import Head, Query

NAME = "postfix"
DESCRIPTION = "Postfix maillog (syslog), delivery status lines joined by queue id"
INPUT = "lines"

_EVENTS = {"sent": "delivered", "deferred": "deferred", "bounced": "bounced", "expired": "bounced",
           "undeliverable": "bounced", "delivered": "delivered"}


def sniff(head: str) -> bool:
    """True when a few of the first lines are Postfix syslog lines."""
    lines = [ln for ln in head.splitlines()[:50] if ln.strip()]
    hits = sum(1 for ln in lines if "postfix" in ln and ("]: " in ln) and (": to=<" in ln or ": from=<" in ln or ": message-id=" in ln or ": removed" in ln or ": client=" in ln or "connect from" in ln))
    return bool(lines) and hits >= max(1, len(lines) // 4)


def _field(text: str, sep: str) -> str:
    """SQL: ``text`` up to the first ``sep`` (all of it when there is none). DuckDB's
    ``split_part`` splits the whole string into a list first: ten times slower here."""
    return f"CASE WHEN strpos({text}, '{sep}') > 0 THEN substr({text}, 1, strpos({text}, '{sep}') - 1) ELSE {text} END"


def _after(text: str, marker: str) -> str:
    """SQL: what follows the first ``marker`` in ``text`` (NULL when it is not there)."""
    return f"CASE WHEN strpos({text}, '{marker}') > 0 THEN substr({text}, strpos({text}, '{marker}') + {len(marker)}) END"


# w: the first words of the line (host, program, queue id) after the time stamp (RFC 3339: the stamp is the first word;
# traditional: the first 15 characters, "Nov  7 08:43:05", which may hold two spaces in a row).
# r holds, for each relevant line, its kind and the one or few fields it gives; no filter is
# applied to it (DuckDB would push a filter below the projection and split every line twice).
_SQL = """
WITH w AS (
    SELECT line_no, line, rfc,
        string_split(CASE WHEN rfc THEN substr(line, 1, 200) ELSE substr(line, 17, 184) END, ' ')[CASE WHEN rfc THEN 2 ELSE 1 END:] AS w,
        CASE WHEN contains(line, ': to=<') AND contains(line, ', status=') THEN 's'
             WHEN contains(line, ': message-id=') THEN 'm'
             WHEN contains(line, ': from=<') AND contains(line, ', status=expired') THEN 'x'
             WHEN contains(line, ': from=<') AND contains(line, ', nrcpt=') THEN 'f'
             WHEN contains(line, ': info: header ') OR contains(line, ': warning: header ') THEN 'h'
        END AS kind
    FROM (SELECT line_no, line, line[1] BETWEEN '0' AND '9' AS rfc FROM lines
          WHERE contains(line, ', status=') OR contains(line, ': message-id=') OR contains(line, ', nrcpt=')
             OR contains(line, ': header '))
), w2 AS (
    -- one step per column: DuckDB evaluates an expression repeated inside CASE branches each time
    SELECT *, CASE kind WHEN 's' THEN {to} WHEN 'm' THEN ltrim({mid}, '<')
                        WHEN 'f' THEN {from} WHEN 'h' THEN {header} END AS v0
    FROM w
), w3 AS (
    SELECT *, CASE WHEN kind = 'h' THEN {hname} END AS hname, CASE WHEN kind = 'h' THEN {hvalue0} END AS hvalue0 FROM w2
), r AS MATERIALIZED (
    SELECT kind, w[1] AS host,
        CASE WHEN ends_with(w[3], ':') AND regexp_full_match(w[3], '[0-9A-Za-z]{5,}:') THEN substr(w[3], 1, strlen(w[3]) - 1) END AS qid,
        CASE WHEN kind IN ('s', 'm', 'x') OR kind IS NULL THEN {ts} END AS ts,
        CASE WHEN kind IN ('s', 'x') OR kind IS NULL THEN line END AS line,
        CASE WHEN kind IN ('s', 'x') OR kind IS NULL THEN line_no END AS line_no,
        CASE WHEN kind IN ('s', 'm', 'f') THEN {v}
             WHEN kind = 'h' AND list_contains($wb_campaign_headers, lower(hname)) THEN rtrim({hvalue}, ';') END AS v,
        CASE WHEN kind = 's' THEN substr(line, strpos(line, ', status=') + 9) END AS tail,
        CASE WHEN kind = 's' THEN {prog} END AS prog
    FROM w3
), facts AS (
    SELECT host, qid,
        min(ts) FILTER (WHERE kind = 'm') AS queued,
        arg_min(v, ts) FILTER (WHERE kind = 'm' AND v <> '') AS message_id,
        any_value(v) FILTER (WHERE kind = 'f') AS sender,
        any_value(v) FILTER (WHERE kind = 'h' AND v IS NOT NULL) AS campaign_id
    FROM r WHERE kind IN ('m', 'f', 'h') AND qid IS NOT NULL
    GROUP BY host, qid
), s0 AS (
    SELECT ts, host, qid, line_no, line, v AS recipient, tail, rtrim(prog, ':') AS prog,
        {relay0} AS relay0, {dsn0} AS dsn0, rtrim(tail) AS rtail
    FROM r WHERE kind = 's' AND qid IS NOT NULL AND ts IS NOT NULL
), s1 AS (
    SELECT *, {relay1} AS relay1 FROM s0
), s2 AS (
    SELECT *, {relay2} AS relay2 FROM s1
), s AS (
    SELECT ts, host, qid, line_no, line, recipient,
        CASE WHEN contains(prog, '/') THEN substr(prog, 1, strlen(prog) - strpos(reverse(prog), '/')) ELSE prog END AS mta_instance,
        nullif({relay}, '') AS relay,
        {dsn} AS dsn,
        {status} AS status,
        CASE WHEN contains(tail, ' (') AND ends_with(rtail, ')')
             THEN substr(tail, strpos(tail, ' (') + 2, strlen(rtail) - strpos(tail, ' (') - 2) END AS said
    FROM s2
), st AS (
    SELECT s.*,
        CASE WHEN regexp_full_match(dsn, '\\d\\.\\d{1,3}\\.\\d{1,3}') THEN dsn END AS enhanced_status,
        CASE WHEN relay IN ('none', 'local') THEN NULL ELSE relay END AS remote_mta,
        CASE WHEN said IS NULL THEN NULL
             WHEN starts_with(said, 'host ') OR contains(said, ' (in reply to ')
             THEN regexp_replace(regexp_replace(said, '^host \\S+ said: ', ''), ' \\(in reply to [^)]*\\)$', '')
             ELSE said END AS diagnostic,
        {event} AS event_type,
        f.queued, f.message_id, f.sender, f.campaign_id
    FROM s LEFT JOIN facts f USING (host, qid)
), expiry AS (
    SELECT host, qid, ts, line, line_no FROM r WHERE kind = 'x' AND qid IS NOT NULL AND ts IS NOT NULL
), last AS (
    SELECT host, qid, recipient,
        arg_max({{'status': status, 'enhanced_status': enhanced_status, 'diagnostic': diagnostic,
                  'remote_mta': remote_mta, 'mta_instance': mta_instance}}, ts) AS a
    FROM st WHERE (host, qid) IN (SELECT host, qid FROM expiry)
    GROUP BY host, qid, recipient
)
SELECT line_no, line, CASE WHEN event_type IS NULL THEN '' END AS reject, ts, event_type, message_id, campaign_id,
       recipient, sender, remote_mta, enhanced_status, diagnostic, mta_instance, NULL AS bounce_class, NULL AS bounce_reason,
       line AS key
FROM st
UNION ALL
SELECT NULL, NULL, NULL, any_value(queued), 'injected', any_value(message_id), any_value(campaign_id), recipient,
       any_value(sender), NULL, NULL, NULL, any_value(mta_instance), NULL, NULL,
       'postfix-injected|' || host || '|' || qid || '|' || recipient
FROM st WHERE queued IS NOT NULL AND event_type IS NOT NULL
GROUP BY host, qid, recipient
UNION ALL
SELECT x.line_no, x.line, NULL, x.ts, 'bounced', f.message_id, f.campaign_id, l.recipient, f.sender, l.a.remote_mta,
       coalesce(l.a.enhanced_status, '4.4.7'),
       'message expired in queue; last error: ' || coalesce(l.a.diagnostic, 'none'), l.a.mta_instance,
       'soft', 'expired', x.line || '|' || l.recipient
FROM expiry x JOIN last l USING (host, qid) LEFT JOIN facts f USING (host, qid)
WHERE l.a.status = 'deferred'
UNION ALL
SELECT line_no, line, 'a Postfix status line without a readable time stamp, program or queue id', NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, line
FROM r WHERE (kind IS NULL AND contains(line, ', status=')) OR (kind IN ('s', 'x') AND (qid IS NULL OR ts IS NULL))
"""


def query(options: Any, head: Head) -> Query:
    """The parser: Postfix events of ``lines``. Year-less (traditional) stamps take the year
    of ``options.reference_time`` (the file's time), or the year before for a stamp more
    than two days after it."""
    reference = options.reference_time or datetime.now(UTC)
    limit = reference.astimezone(UTC).replace(tzinfo=None) + timedelta(days=2)
    stamp = _field("line", " ")  # the first word (split_part splits the whole line: a third slower here)
    rfc = (
        f"coalesce(make_timestamp(epoch_us(try_strptime({stamp}, '%Y-%m-%dT%H:%M:%S.%f%z'))),"
        f" make_timestamp(epoch_us(TRY_CAST(replace({stamp}, 'Z', '+00:00') AS TIMESTAMPTZ))))"
    )
    trad = "try_strptime($wb_year || ' ' || substr(line, 1, 15), '%Y %b %d %H:%M:%S')"
    ts = (
        f"CASE WHEN rfc THEN {rfc} ELSE "
        f"CASE WHEN {trad} > $wb_limit THEN {trad} - INTERVAL 1 YEAR ELSE {trad} END END"
    )
    event = "CASE status " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in _EVENTS.items()) + " END"
    fields = {
        "ts": ts, "event": event,
        "header": _after("line", ": header "),
        "to": _after("line", ": to=<"),
        "mid": _after("line", ": message-id="),
        "from": _after("line", ": from=<"),
        "hname": _field("v0", ":"),
        "hvalue0": "ltrim(substr(v0, strpos(v0, ':') + 1))",
        "hvalue": _field("hvalue0", " "),
        "v": _field("v0", ">"),
        "prog": _field("w[2]", "["),
        "relay0": _after("line", ", relay="),
        "relay1": _field("relay0", ","),
        "relay2": _field("relay1", "["),
        "relay": _field("relay2", " "),
        "dsn0": _after("line", ", dsn="),
        "dsn": _field("dsn0", ","),
        "status": _field("tail", " "),
    }
    sql = _SQL
    for name, expr in fields.items():
        sql = sql.replace("{" + name + "}", expr)
    sql = sql.replace("{{", "{").replace("}}", "}")
    params = {"wb_year": str(reference.year), "wb_limit": limit,
              "wb_campaign_headers": [h.lower() for h in options.campaign_headers]}
    return Query(sql, params)
