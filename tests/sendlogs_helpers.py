"""Run a send-log parser over a fixture file without a store."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import polars as pl

from workbench.sources import sqlparse
from workbench.sources.jsonengine import document_records
from workbench.sources.reader import Reject, read_document
from workbench.sources.sendlogs.base import ParseOptions

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sendlogs"


def parse(module: ModuleType, path: Path, *, document: bool = False, chunk_bytes: int | None = None,
          **options: object) -> tuple[pl.DataFrame, list[Reject]]:
    """The events and rejects of ``path``: its lines (or one JSON document's records) bound
    to the parser's input relation in an in-memory DuckDB."""
    opts = ParseOptions(source=str(path), **options)  # type: ignore[arg-type]
    if document:
        records, rejects = document_records(read_document(path), str(path))
        result = sqlparse.run(module, records, opts, unit="record")
        return result.events, [*rejects, *result.rejects]
    result = sqlparse.parse_file(module, path, opts, chunk_bytes=chunk_bytes)
    return result.events, result.rejects


def rows(frame: pl.DataFrame, *columns: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in frame.select(columns).iter_rows()]
