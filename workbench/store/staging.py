"""Small files of one format parsed together: one statement for a group, one transaction per file.

A folder of daily files (the synthetic world has some 400) used to cost more in fixed work
per file than in rows: binding the parser's query takes DuckDB tens of milliseconds, running
it on a small file less. Consecutive small files of the same row-by-row format (every
format but Postfix, whose messages span lines, and JSON documents) with the same header are
therefore parsed by one query over all of them into a temporary table, each row tagged with
its file; then each file is loaded in its own transaction from that table
(:meth:`workbench.store.loading.FileSink.add_staged`), keyed and deduplicated as always.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from workbench.sources import registry, scan, sqlparse
from workbench.sources.events import conform_sql
from workbench.sources.reader import read_head
from workbench.sources.sendlogs.base import ParseOptions
from workbench.sources.sqlparse import Head

#: a file this small may join a group; a group holds at most so many files and bytes
SMALL_FILE = 8 << 20
GROUP_FILES = 64
GROUP_BYTES = 32 << 20
TABLE = "wb_stage"


@dataclass
class Member:
    """A file of a group: its path, format and head."""

    path: Path
    fmt: registry.Format
    module: ModuleType
    head: Head


class _GroupRejects(sqlparse.RejectSink):
    """Counts refused records per file (``line_no`` carries the file's index here)."""

    def __init__(self) -> None:
        super().__init__()
        self.per_file: dict[int, int] = {}

    def take(self, line_no: pa.Array, reason: pa.Array, line: pa.Array) -> pa.Array:
        refused = pc.is_valid(reason)
        with self._lock:
            for index in pc.filter(line_no, refused).to_pylist():
                self.per_file[int(index)] = self.per_file.get(int(index), 0) + 1
        return pc.invert(refused)


@dataclass
class Stage:
    """A group's parsed events in :data:`TABLE`; ``refused[i]``: records file ``i`` refused
    (their places are found by an exact pass over that file), ``exact``: files that need that
    pass anyway (a damaged compressed stream; lines DuckDB's CSV reader could not read)."""

    members: list[Member]
    refused: dict[int, int] = field(default_factory=dict)
    exact: set[int] = field(default_factory=set)


def member_of(path: Path, format_name: str | None) -> Member | None:
    """``path`` as a group member, or None when it must load alone (large, unknown format,
    a format whose records span lines, a JSON document)."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if size > SMALL_FILE:
        return None
    head = read_head(path)
    try:
        fmt = registry.by_name(format_name) if format_name else registry.detect(path, head)
    except Exception:  # unknown: load_file quarantines it
        return None
    module = fmt.module
    if module is None or not getattr(module, "ROW_LOCAL", False):
        return None
    if fmt.documents and registry.is_document(head):
        return None
    return Member(path, fmt, module, sqlparse.head_for(module, head.decode("utf-8", "replace")))


def groups(paths: list[Path], format_name: str | None) -> Iterator[list[Path | Member]]:
    """``paths`` in order, as lone files (``[path]``) or groups of at least two members."""
    group: list[Member] = []
    size = 0
    for path in paths:
        member = member_of(path, format_name)
        fits = (member is not None and group and member.fmt.name == group[0].fmt.name
                and _shape(member.head) == _shape(group[0].head) and len(group) < GROUP_FILES
                and size + member.path.stat().st_size <= GROUP_BYTES)
        if group and not fits:
            yield list(group) if len(group) > 1 else [group[0].path]
            group, size = [], 0
        if member is None:
            yield [path]
            continue
        group.append(member)
        size += member.path.stat().st_size
    if group:
        yield list(group) if len(group) > 1 else [group[0].path]


def _shape(head: Head) -> tuple[object, ...]:
    """What must agree for files to be read together (not the text, which varies)."""
    return head.kind, head.columns, tuple(head.types.items())


def stage(con: duckdb.DuckDBPyConnection, members: list[Member], options: ParseOptions) -> Stage:
    """Parse ``members`` (one format, one head) into :data:`TABLE`, outside any file's
    transaction (a temporary table: no other connection sees it).

    Raises
    ------
    InputError
        The parser refuses the head (e.g. a CSV without the columns it needs).
    duckdb.Error
        DuckDB could not read the files together.
    """
    first = members[0]
    module, head = first.module, first.head
    query = module.query(options, head)
    result = Stage(members)
    with contextlib.ExitStack() as stack:
        plains: list[str] = []
        for index, m in enumerate(members):
            plain, damaged = stack.enter_context(scan.plain_copy(m.path))
            if damaged:
                result.exact.add(index)
            plains.append(str(plain))
        relation = scan.relation_sql(head).replace("read_csv($wb_path,", "read_csv($wb_path, filename = true,").replace(
            "read_json($wb_path,", "read_json($wb_path, filename = true,")
        # the file's index in place of a line number: it follows each row through the parser
        relation = (f"SELECT * EXCLUDE (_line_no, filename), (list_position($wb_path, filename) - 1)::BIGINT AS _line_no "
                    f"FROM ({relation}) _f")
        params = {**scan.relation_params(Path(), head), "wb_path": plains, **query.params}
        sql = sqlparse.bind(query, "records", relation)
        present = sqlparse.columns_of(con, sql, params)
        rejects = _GroupRejects()
        sqlparse.reject_function(con, rejects)
        conformed = conform_sql(sql, present, clean=query.clean)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT line_no AS wb_file, * EXCLUDE (reject, line_no, line) "
            f"FROM ({conformed}) _s WHERE CASE WHEN reject IS NULL THEN true WHEN reject = '' THEN false "
            "ELSE workbench_reject(line_no, reject, line) END",
            params,
        )
        if scan.REJECT_TABLES[0] in relation:
            if con.execute(f"SELECT count(*) FROM {scan.REJECT_TABLES[0]}").fetchall()[0][0]:
                result.exact.update(range(len(members)))  # which file's lines: the exact pass says
            con.execute(f"DROP TABLE {scan.REJECT_TABLES[0]}; DROP TABLE {scan.REJECT_TABLES[1]}")
    result.refused = dict(rejects.per_file)
    return result


def drop(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the staging table."""
    con.execute(f"DROP TABLE IF EXISTS {TABLE}")
