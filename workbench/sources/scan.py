"""A file as DuckDB reads it: the ``lines`` or CSV ``records`` relation a SQL parser reads.

DuckDB's own CSV reader streams a file at some 10^6 lines a second per core, in parallel,
inside the store's connection, so that parsing and inserting happen in one statement with
nothing materialised in Python. Lines are read with a delimiter that no log or JSON line
holds (U+0001) and no quoting; CSV records with the header this module read itself, every
field as text. Invalid UTF-8 and over-long lines are set aside by DuckDB (``store_rejects``);
the loader then finds their places with the exact streaming reader
(:func:`workbench.sources.sqlparse.exact_rejects`).

Compressed files are not handed to DuckDB (whose decompression is unbounded): they are
decompressed by :func:`workbench.sources.reader.open_stream` (bounded: a bomb is refused)
into a temporary file that DuckDB then reads like any other.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import zstandard

from workbench.errors import UnsafeInput
from workbench.sources.reader import MAX_DECOMPRESSED, compression_of, open_stream, read_head
from workbench.sources.sqlparse import Head, head_for

#: longest line DuckDB reads (longer ones are rejected)
MAX_LINE_BYTES = 8 << 20
#: the temporary tables DuckDB's CSV reader fills with what it could not read
REJECT_TABLES = ("wb_reject_errors", "wb_reject_scans")

_READ_LINES = (
    "SELECT NULL::BIGINT AS line_no, line FROM read_csv($wb_path, columns={'line': 'VARCHAR', 'extra': 'VARCHAR'}, "
    "delim=chr(1), quote='', escape='', comment='', header=false, auto_detect=false, strict_mode=false, "
    "null_padding=true, compression='none', max_line_size=" + str(MAX_LINE_BYTES) + ", "
    "store_rejects=true, rejects_table='wb_reject_errors', rejects_scan='wb_reject_scans') "
    "WHERE CASE WHEN extra IS NULL AND NOT contains(line, chr(0)) THEN true "
    "ELSE workbench_reject(NULL, CASE WHEN extra IS NULL THEN 'NUL byte in the line' "
    "ELSE 'control character U+0001 in the line' END, line) END"
)

_READ_RECORDS = (
    "SELECT *, NULL::BIGINT AS _line_no, NULL::VARCHAR AS _line FROM read_csv($wb_path, columns=$wb_columns, "
    "header=true, delim=',', quote='\"', escape='\"', comment='', auto_detect=false, strict_mode=true, "
    "null_padding=true, compression='none', max_line_size=" + str(MAX_LINE_BYTES) + ", "
    "store_rejects=true, rejects_table='wb_reject_errors', rejects_scan='wb_reject_scans')"
)


_READ_JSON = (
    "SELECT *, NULL::BIGINT AS _line_no, NULL::VARCHAR AS _line FROM read_json($wb_path, columns=$wb_columns, "
    "format='newline_delimited', ignore_errors=true, compression='none', maximum_object_size=" + str(MAX_LINE_BYTES) + ")"
)


def relation_sql(head: Head) -> str:
    """SQL of the input relation (``head.kind``) over the file ``$wb_path`` (CSV and JSON
    records also take ``$wb_columns``, see :func:`relation_params`). JSON lines are read by
    DuckDB's JSON reader straight into the parser's fields; a line it cannot read becomes a
    row of NULLs, which the parser refuses."""
    return {"records": _READ_RECORDS, "json": _READ_JSON}.get(head.kind, _READ_LINES)


def relation_params(path: Path, head: Head) -> dict[str, object]:
    """Parameters of :func:`relation_sql` for ``path``."""
    params: dict[str, object] = {"wb_path": str(path)}
    if head.kind == "records":
        params["wb_columns"] = {name: "VARCHAR" for name in head.columns}
    elif head.kind == "json":
        params["wb_columns"] = dict(head.types)
    return params


def head_of(path: Path, module: ModuleType, size: int = 65536) -> Head:
    """The :class:`Head` of ``path`` for ``module`` (from its first ``size`` bytes)."""
    return head_for(module, read_head(path, size).decode("utf-8", "replace"))


@contextmanager
def plain_copy(path: Path, *, limit: int = MAX_DECOMPRESSED) -> Iterator[tuple[Path, bool]]:
    """``path`` itself when it is not compressed, else its content decompressed (bounded) into
    a temporary file that is removed afterwards; and whether the compressed stream ended
    early or was corrupt (its last, partial line is then left out).

    Raises
    ------
    UnsafeInput
        The file decompresses past ``limit`` bytes.
    """
    with path.open("rb") as raw:
        kind = compression_of(raw.read(4))
    if kind is None:
        yield path, False
        return
    damaged = False
    fd, name = tempfile.mkstemp(prefix="workbench-", suffix=".spool")
    spool = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with open_stream(path, limit=limit) as stream:
                    shutil.copyfileobj(stream, out, 1 << 20)
            except UnsafeInput:
                raise
            except (EOFError, zlib.error, zstandard.ZstdError, OSError):
                damaged = True
        if damaged:
            _cut_partial_line(spool)
        yield spool, damaged
    finally:
        spool.unlink(missing_ok=True)


def _cut_partial_line(spool: Path) -> None:
    """Drop what follows the last newline of ``spool`` (a line cut by a truncated stream)."""
    size = spool.stat().st_size
    with spool.open("r+b") as f:
        pos = size
        while pos > 0:
            step = min(pos, 1 << 16)
            f.seek(pos - step)
            block = f.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                f.truncate(pos - step + cut + 1)
                return
            pos -= step
        f.truncate(0)
