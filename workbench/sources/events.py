"""The canonical event record that every send-log parser produces, and how it is completed.

Parsers yield (a subset of) :data:`PARSED_COLUMNS`; :func:`conform_sql` wraps a parser's
query so that it has every canonical column, in order, with its type, and derives what the
source left out: ``recipient_domain`` and ``sending_domain`` from the addresses, the reply
code and enhanced status from the diagnostic text, and a first bounce classification of
failures. It is SQL so that loading runs it in the store's own DuckDB connection, streaming
from the file; :func:`conform` runs the same SQL over a polars frame (a private in-memory
DuckDB), for sources that build their events in Python.

``key`` is the text that identifies the record in its source (an event id, or the record
itself): the store keeps ``md5(key)`` as ``source_key`` so that loading the same record twice
is a no-op.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import polars as pl

EVENT_TYPES = (
    "injected",
    "delivered",
    "deferred",
    "bounced",
    "dropped",
    "opened",
    "clicked",
    "complained",
    "unsubscribed",
)

BOUNCE_CLASSES = ("hard", "soft", "block", "admin", "undetermined")

PARSED_COLUMNS: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us"),
    "event_type": pl.Utf8(),
    "message_id": pl.Utf8(),
    "campaign_id": pl.Utf8(),
    "contact_id": pl.Utf8(),
    "recipient": pl.Utf8(),
    "recipient_domain": pl.Utf8(),
    "mailbox_provider": pl.Utf8(),
    "sender": pl.Utf8(),
    "sending_domain": pl.Utf8(),
    "sending_ip": pl.Utf8(),
    "ip_pool": pl.Utf8(),
    "remote_mta": pl.Utf8(),
    "bounce_class": pl.Utf8(),
    "bounce_reason": pl.Utf8(),
    "smtp_code": pl.Int16(),
    "enhanced_status": pl.Utf8(),
    "diagnostic": pl.Utf8(),
    "is_machine": pl.Boolean(),
    "url": pl.Utf8(),
    "user_agent": pl.Utf8(),
    "client_ip": pl.Utf8(),
    "mta_instance": pl.Utf8(),
    "key": pl.Utf8(),
}

#: DuckDB type of each parsed column
SQL_TYPES = {
    name: {pl.Datetime: "TIMESTAMP", pl.Int16: "SMALLINT", pl.Boolean: "BOOLEAN"}.get(type(dtype), "VARCHAR")
    for name, dtype in PARSED_COLUMNS.items()
}

#: columns a parser's query may add for the loader: why a record is refused (NULL: it is
#: not), where it was (``line_no``: line, record or row number when the input knows it) and
#: its text (``line``, for the quarantine excerpt)
META_COLUMNS = {"reject": "VARCHAR", "line_no": "BIGINT", "line": "VARCHAR"}

_FAILED = "event_type IN ('bounced', 'deferred', 'dropped')"

# First-pass bounce_reason of a failure, from its enhanced status ({st}) and lower-cased text
# ({t}): hard = the address is bad (5.1.x, user texts); block = refused for policy, reputation,
# spam or authentication; soft = temporary or mailbox-level. The bounce classifier refines
# these. One alternation per rule on the lower-cased text (few function calls: DuckDB binds
# each one, which costs more than running them on a small file).
_RULES = (
    ('hostunknown', "starts_with({st}, '5.1.2')", ('host not found', 'domain not found', 'no mx', 'nxdomain')),
    ('userunknown', "regexp_matches({st}, '^5\\.1\\.[0136]')", ('user unknown', 'unknown user', 'does not exist', 'no such user', 'invalid recipient', 'recipient rejected', 'mailbox unavailable', 'address rejected', 'not found')),
    ('mailboxfull', "regexp_matches({st}, '^[45]\\.2\\.2')", ('quota', 'mailbox full', 'over quota', 'insufficient storage')),
    ('authfailure', "regexp_matches({st}, '^[45]\\.7\\.(26|27|32|515)')", ('dmarc', 'spf', 'dkim', 'authenticat')),
    ('spamdetected', None, ('spam', 'junk', 'content')),
    ('badreputation', None, ('reputation', 'blacklist', 'blocklist', 'block list', 'rbl', 'spamhaus', 'listed')),
    ('speeding', None, ('rate limit', 'too many', 'try again later', 'throttl', 'deferred due to', 'tss04')),
    ('blocked', "starts_with({st}, '5.7') OR starts_with({st}, '4.7')", ('blocked', 'denied', 'policy')),
    ('expired', None, ('expired', 'too long', 'timed out', 'timeout')),
)
_REASON = "CASE\n" + "\n".join(
    "    WHEN " + " OR ".join(([status] if status else []) + [f"regexp_matches({{t}}, '{'|'.join(words)}')"]) + f" THEN '{reason}'"
    for reason, status, words in _RULES
) + "\n    ELSE 'undefined'\nEND"

# bounce_class of a failure from its reason ({r}) and permanence (5.x.x status or 5xx code)
_CLASS = """CASE
    WHEN event_type = 'dropped' THEN 'admin'
    WHEN {r} IN ('blocked', 'badreputation', 'spamdetected', 'authfailure', 'speeding') THEN 'block'
    WHEN {r} IN ('userunknown', 'hostunknown') AND (starts_with({st}, '5') OR smtp_code >= 500) THEN 'hard'
    WHEN NOT (starts_with({st}, '5') OR smtp_code >= 500) OR {r} IN ('mailboxfull', 'expired') THEN 'soft'
    WHEN starts_with({st}, '5') OR smtp_code >= 500 THEN 'hard'
    ELSE 'undetermined'
END"""


def clean_address_sql(column: str) -> str:
    """SQL: an address without angle brackets, display name or surrounding space, lower-cased
    (NULL when empty); the common bare address goes through ``lower`` only."""
    return (
        f"nullif(lower(CASE WHEN contains({column}, '<') THEN trim(coalesce(nullif("
        f"regexp_extract({column}, '<([^<>]*)>\\s*$', 1), ''), {column})) "
        f"WHEN starts_with({column}, ' ') OR ends_with({column}, ' ') THEN trim({column}) ELSE {column} END), '')"
    )


def domain_sql(column: str, rest: str | None = None) -> str:
    """SQL: the lower-cased domain of an address (after the last ``@``, without trailing
    dots; NULL without an ``@`` or when empty). ``rest``: a column already holding
    :func:`domain_part_sql` of the address (computed in an earlier projection, which DuckDB
    evaluates much faster than the same expression repeated inside a CASE)."""
    rest = rest or domain_part_sql(column)
    return f"CASE WHEN {rest} = '' OR ends_with({rest}, '.') THEN nullif(rtrim({rest}, '.'), '') ELSE {rest} END"


def domain_part_sql(column: str) -> str:
    """SQL: the lower-cased text after the last ``@`` of an address (NULL without one)."""
    return f"CASE WHEN contains({column}, '@') THEN lower(split_part({column}, '@', -1)) END"


def enhanced_status_sql(column: str) -> str:
    """SQL: the first enhanced status code (``5.1.1``) in a reply text (the capturing search
    only on texts that hold one)."""
    pattern = "\\b([245]\\.\\d{1,3}\\.\\d{1,3})\\b"
    return f"CASE WHEN regexp_matches({column}, '{pattern}') THEN regexp_extract({column}, '{pattern}', 1) END"


def smtp_code_sql(column: str) -> str:
    """SQL: the three-digit reply code at the start of a reply (after an optional ``smtp;``)."""
    return (
        f"CASE WHEN regexp_full_match(substr({column}, 1, 4), '[245]\\d\\d[\\s-]') THEN TRY_CAST(substr({column}, 1, 3) AS SMALLINT) "
        f"WHEN starts_with(lower({column}), 'smtp;') THEN TRY_CAST(nullif(regexp_extract({column}, "
        f"'^(?:smtp;\\s*)?([245]\\d\\d)[\\s-]', 1), '') AS SMALLINT) END"
    )


def conform_sql(inner: str, present: Mapping[str, str] | Collection[str], *, clean: bool = False) -> str:
    """Wrap the query ``inner`` so that it yields every parsed column in order with its
    type, the derived ones filled, plus :data:`META_COLUMNS`.

    ``present`` names the columns ``inner`` has (a mapping to their DuckDB types spares the
    casts of those already typed). ``clean=True`` promises that addresses are already bare
    and lower-case (canonical files), which spares their normalisation.
    """
    types = dict(present) if isinstance(present, Mapping) else {name: "" for name in present}
    typed = []
    for name, sql_type in {**SQL_TYPES, **META_COLUMNS}.items():
        if name not in types:
            typed.append(f"NULL::{sql_type} AS {name}")
        elif name in ("recipient", "sender") and not clean:
            typed.append(f"{clean_address_sql(name if types[name] == 'VARCHAR' else f'{name}::VARCHAR')} AS {name}")
        elif types[name] == sql_type:
            typed.append(name)
        else:
            typed.append(f"TRY_CAST({name} AS {sql_type}) AS {name}")
    derived = {
        "enhanced_status": f"coalesce(enhanced_status, {enhanced_status_sql('diagnostic')})",
        "smtp_code": f"coalesce(smtp_code, {smtp_code_sql('diagnostic')})",
        "recipient_domain": f"coalesce(recipient_domain, {domain_sql('recipient', 'wb_rrest')})",
        "sending_domain": f"coalesce(sending_domain, {domain_sql('sender', 'wb_srest')})",
    }
    st, t = "coalesce(enhanced_status, '')", "wb_t"
    reason = _REASON.format(st=st, t=t)
    klass = _CLASS.format(st=st, r="bounce_reason")
    out = [
        f"CASE WHEN {_FAILED} THEN coalesce(bounce_class, {klass}) ELSE bounce_class END AS bounce_class"
        if name == "bounce_class" else name
        for name in [*SQL_TYPES, *META_COLUMNS]
    ]
    replace = ", ".join(f"{expr} AS {name}" for name, expr in derived.items())
    return (
        f"SELECT {', '.join(out)} FROM (\n"
        f"  SELECT * REPLACE (CASE WHEN {_FAILED} THEN coalesce(bounce_reason, {reason}) ELSE bounce_reason END AS bounce_reason) FROM (\n"
        f"   SELECT *, CASE WHEN {_FAILED} AND bounce_reason IS NULL THEN lower(coalesce(diagnostic, '')) END AS wb_t FROM (\n"
        f"    SELECT * REPLACE ({replace}) FROM (\n"
        f"      SELECT *, {domain_part_sql('recipient')} AS wb_rrest, {domain_part_sql('sender')} AS wb_srest FROM (\n"
        f"        SELECT {', '.join(typed)} FROM (\n{inner}\n) _i) _h) _t) _d) _w) _r"
    )


def conform(frame: pl.DataFrame, *, clean: bool = False) -> pl.DataFrame:
    """Give a frame every canonical column, in order, with its type, the derived ones filled
    (:func:`conform_sql` over the frame, in a private in-memory DuckDB)."""
    from workbench.sources.jsonengine import JsonEngine

    if frame.is_empty() and not frame.columns:
        return empty_events()
    sql = conform_sql("SELECT * FROM frame", frame.columns, clean=clean)
    out = JsonEngine().run(f"SELECT * EXCLUDE (reject, line_no, line) FROM ({sql})", frame=frame)
    return out.cast(PARSED_COLUMNS)  # type: ignore[arg-type]


def empty_events() -> pl.DataFrame:
    """A frame with the canonical columns and no rows."""
    return pl.DataFrame(schema=PARSED_COLUMNS)
