"""Run a send-log parser over a fixture file without a store."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import polars as pl

from workbench.sources.reader import Reject, iter_line_chunks, read_document
from workbench.sources.sendlogs.base import ParseOptions

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sendlogs"


def parse(module: ModuleType, path: Path, *, document: bool = False, chunk_bytes: int = 1 << 20, **options: object) -> tuple[pl.DataFrame, list[Reject]]:
    parser = module.Parser(ParseOptions(source=str(path), **options))  # type: ignore[arg-type]
    if document:
        parsed = parser.parse_document(read_document(path))
        return parsed.events, parsed.rejects
    frames, rejects = [], []
    for chunk in iter_line_chunks(path, chunk_bytes=chunk_bytes):
        rejects += chunk.rejects
        parsed = parser.feed(chunk)
        frames.append(parsed.events)
        rejects += parsed.rejects
    tail = parser.finish()
    frames.append(tail.events)
    rejects += tail.rejects
    return pl.concat(frames), rejects


def rows(frame: pl.DataFrame, *columns: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in frame.select(columns).iter_rows()]
