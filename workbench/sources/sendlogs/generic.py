"""Generic event files: CSV, JSON lines or Parquet, in the canonical columns or mapped to them.

A file whose columns already carry the canonical names (``ts``, ``event_type``,
``recipient``, ...: what ``workbench`` itself exports and what the tracking spool writes)
loads as is. Any other file loads with a column mapping, canonical name -> the file's
column, e.g. ``{"ts": "timestamp", "event_type": "status", "recipient": "email"}``, and
optionally an ``event_map`` from the file's values to canonical event types
(``{"sent": "injected", "open": "opened"}``). An ``event_id`` column, when mapped or
present, identifies each record; otherwise the record's content does (every field).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from workbench.errors import ParseError
from workbench.sources.events import EVENT_TYPES, PARSED_COLUMNS
from workbench.sources.jsonengine import structure
from workbench.sources.sendlogs.base import general_ts_sql, quote_ident, ts_sql
from workbench.sources.sqlparse import Head, Query

NAME = "generic"
DESCRIPTION = "CSV / JSON lines / Parquet in the canonical columns, or with a column mapping"
INPUT = "auto"
#: each record parses on its own (small files may be parsed in groups)
ROW_LOCAL = True

CANONICAL = [c for c in PARSED_COLUMNS if c != "key"]
_TRUE = ("true", "t", "1", "yes", "y")
#: a Parquet file as the ``records`` relation (typed columns, rows numbered from 1)
PARQUET_RELATION = "SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _line_no, NULL::VARCHAR AS _line FROM read_parquet($wb_path, file_row_number = true)"


def sniff(head: str) -> bool:
    """True for canonical CSV (a header with ``ts`` and ``event_type``) or canonical JSON lines."""
    stripped = head.lstrip()
    if stripped.startswith("{"):
        first = stripped.split("\n", 1)[0]
        return bool(re.search(r'"ts"\s*:', first) and re.search(r'"event_type"\s*:', first))
    names = [n.strip('" \r').lower() for n in stripped.split("\n", 1)[0].split(",")]
    return "ts" in names and "event_type" in names


def input_of(text: str) -> str:
    """``"lines"`` for JSON lines, ``"records"`` for CSV."""
    return "lines" if text.lstrip().startswith("{") else "records"


def parquet_head(schema: pa.Schema) -> Head:
    """The head of a Parquet file: its columns and their DuckDB types."""
    types = {f.name: _duck_type(f.type) for f in schema}
    return Head("", "records", tuple(types), types)


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "NUMBER"
    if pa.types.is_date(t):
        return "DATE"
    return "VARCHAR"


def _sources(mapping: Mapping[str, str], columns: tuple[str, ...]) -> dict[str, str]:
    """Canonical name (and ``event_id``) -> the column holding it."""
    out = {}
    for name in [*CANONICAL, "event_id"]:
        src = mapping.get(name, name)
        if src in columns:
            out[name] = src
    return out


def _value(name: str, src: str, types: Mapping[str, str], options: Any, sample: str | None) -> str:
    col = quote_ident(src)
    kind = types.get(src, "VARCHAR")
    if name == "ts":
        if kind == "TIMESTAMP":
            return col
        if kind == "TIMESTAMPTZ":
            return f"make_timestamp(epoch_us({col}))"
        if kind == "DATE":
            return f"{col}::TIMESTAMP"
        text = f"{col}::VARCHAR"
        if options.ts_format:
            parsed = f"try_strptime({text}, $wb_ts_format)"
            return f"make_timestamp(epoch_us({parsed}))" if "%z" in options.ts_format or "%Z" in options.ts_format else parsed
        return ts_sql(text, sample) if kind == "VARCHAR" else general_ts_sql(text)
    if name == "event_type":
        event = f"lower(trim({col}::VARCHAR))"
        return f"coalesce(MAP($wb_event_from, $wb_event_to)[{event}], {event})" if options.event_map else event
    if name == "is_machine":
        return col if kind == "BOOLEAN" else f"lower({col}::VARCHAR) IN {_TRUE}"
    if name == "smtp_code":
        return f"TRY_CAST(TRY_CAST(trim({col}::VARCHAR) AS DOUBLE) AS SMALLINT)"
    return f"{col}::VARCHAR"


def query(options: Any, head: Head) -> Query:
    """The parser: canonical or mapped events of CSV ``records`` / Parquet rows, or of JSON
    ``lines``.

    Raises
    ------
    ParseError
        A CSV or Parquet file has no column for ``ts`` or ``event_type``.
    """
    mapping = dict(options.mapping or {})
    params: dict[str, object] = {}
    types: Mapping[str, str]
    if options.ts_format:
        params["wb_ts_format"] = options.ts_format
    if options.event_map:
        pairs = {k.lower(): v for k, v in options.event_map.items()}
        params.update(wb_event_from=list(pairs), wb_event_to=list(pairs.values()))
    if head.kind == "lines":
        rows, columns, types = _json_rows(mapping)  # types: all text
        sample = None
        excerpt = "_line"
        record = "_line"
    else:
        rows, columns, types = "SELECT * FROM records", head.columns, head.types
        missing = [c for c in ("ts", "event_type") if mapping.get(c, c) not in columns]
        if missing:
            raise ParseError(
                options.source, None,
                f"no column for {', '.join(missing)}; pass a mapping "
                f"(e.g. --map ts=timestamp --map event_type=event); the file has: {', '.join(columns[:30])}",
            )
        first = head.first_record()
        ts_src = mapping.get("ts", "ts")
        sample = first[columns.index(ts_src)] if ts_src in columns and len(first) == len(columns) else None
        fields = ", chr(31), ".join(f"{quote_ident(c)}::VARCHAR" for c in columns)  # concat: NULL as ''
        record = f"concat({fields})"
        excerpt = f"coalesce(_line, concat_ws(',', {', '.join(quote_ident(c) + '::VARCHAR' for c in columns)}))"
    sources = _sources(mapping, tuple(columns))
    values = [f"{_value(n, s, types, options, sample)} AS wb_{n}" for n, s in sources.items() if n != "event_id"]
    key = f"'id:' || {quote_ident(sources['event_id'])}::VARCHAR" if "event_id" in sources else record
    events = "(" + ", ".join(f"'{e}'" for e in EVENT_TYPES) + ")"
    broken = "WHEN NOT json_ok THEN 'not a JSON object' " if head.kind == "lines" else ""
    # the excerpt of a refused record is built only for it (a record's text is not kept)
    sql = f"""
WITH rec AS ({rows}), val AS (
    SELECT *, {', '.join(values)}, {key} AS key FROM rec
), checked AS (
    SELECT *, CASE {broken}WHEN wb_event_type IS NULL OR wb_event_type NOT IN {events} OR wb_ts IS NULL
                   THEN 'unknown event type or unreadable time stamp' END AS reject
    FROM val
)
SELECT _line_no AS line_no, CASE WHEN reject IS NOT NULL THEN {excerpt} END AS line, reject, key,
       {', '.join(f"wb_{n} AS {n}" for n in sources if n != "event_id")}
FROM checked
"""
    return Query(sql, params, clean=not mapping)


def _json_rows(mapping: Mapping[str, str]) -> tuple[str, tuple[str, ...], Mapping[str, str]]:
    """JSON lines as records: each wanted field (canonical names, ``event_id``, mapped paths)."""
    wanted = {**{c: c for c in [*CANONICAL, "event_id"]}, **mapping}
    paths = sorted(set(wanted.values()))
    plain = [p for p in paths if "." not in p]
    dotted = [p for p in paths if "." in p and re.fullmatch(r"[\w.]+", p)]
    spec = structure({p: "VARCHAR" for p in plain})
    extra = "".join(f", try(json_extract_string(_line, '$.{p}')) AS {quote_ident(p)}" for p in dotted)
    rows = (
        f"SELECT _line_no, _line, j.*{extra}, j IS NOT NULL AS json_ok FROM ("
        f"SELECT line_no AS _line_no, line AS _line, try(json_transform(line, {spec})) AS j FROM lines) _j"
    )
    return rows, (*plain, *dotted), {}
