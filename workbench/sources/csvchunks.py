"""CSV records from chunks of lines: the header of the first chunk, polars for the rest.

A chunk is parsed by polars' multi-threaded CSV reader (every column as text). When polars
refuses a chunk (a stray quote, a row with too many fields), the chunk is read again record
by record with the standard ``csv`` module so that only the bad rows are rejected.
"""

from __future__ import annotations

import csv
import io

import polars as pl

from workbench.sources.reader import LineChunk, Reject


class CsvChunks:
    """Turns line chunks of one CSV file into frames of text columns plus ``_line_no``."""

    def __init__(self, *, lower_names: bool = False) -> None:
        self.header: list[str] | None = None
        self.lower = lower_names

    def _take_header(self, chunk: LineChunk) -> tuple[pl.DataFrame, bytes | None]:
        lines = chunk.lines
        first = lines.row(0, named=True)
        self.header = next(csv.reader([first["line"]]))
        if self.lower:
            self.header = [h.strip().lower() for h in self.header]
        rest = lines.slice(1)
        raw = None
        if chunk.raw is not None:
            cut = chunk.raw.find(b"\n")
            raw = chunk.raw[cut + 1 :] if cut >= 0 else b""
        return rest, raw

    def read(self, chunk: LineChunk) -> tuple[pl.DataFrame, list[Reject]]:
        """Records of ``chunk`` as text columns named by the header, with ``_line_no``
        (and ``_line``, the record's text, when records and lines match one to one)."""
        lines, raw = chunk.lines, chunk.raw
        if self.header is None:
            if lines.is_empty():
                return pl.DataFrame(), []
            lines, raw = self._take_header(chunk)
        assert self.header is not None
        if lines.is_empty():
            return pl.DataFrame(), []
        header_line = ",".join(_quote(h) for h in self.header)
        body = raw if raw is not None and len(lines) == raw.count(b"\n") + 1 else None
        text = (header_line + "\n").encode() + (body if body is not None else "\n".join(lines["line"].to_list()).encode())
        try:
            frame = pl.read_csv(
                text, infer_schema=False, has_header=True, new_columns=None, raise_if_empty=False,
            )
            if frame.columns != self.header:
                frame.columns = self.header
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, ValueError):
            return self._slow(lines)
        if len(frame) == len(lines):
            frame = frame.with_columns(_line_no=lines["line_no"], _line=lines["line"])
            return frame, []
        return self._slow(lines)

    def _slow(self, lines: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
        assert self.header is not None
        width = len(self.header)
        rows: list[list[str | None]] = []
        numbers: list[int] = []
        texts: list[str] = []
        rejects: list[Reject] = []
        for number, line in lines.select("line_no", "line").iter_rows():
            try:
                fields = next(csv.reader(io.StringIO(line), strict=True))
            except (csv.Error, StopIteration) as exc:
                rejects.append(Reject(f"line {number}", f"unreadable CSV record: {exc}", line[:200]))
                continue
            if len(fields) != width:
                rejects.append(
                    Reject(f"line {number}", f"CSV record has {len(fields)} fields, the header {width}", line[:200])
                )
                continue
            rows.append([f if f != "" else None for f in fields])
            numbers.append(number)
            texts.append(line)
        frame = pl.DataFrame(rows, schema={h: pl.Utf8 for h in self.header}, orient="row")
        frame = frame.with_columns(
            _line_no=pl.Series(numbers, dtype=pl.Int64), _line=pl.Series(texts, dtype=pl.Utf8)
        )
        return frame, rejects


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"' if any(c in name for c in ',"\n') else name
