"""Readers: files, folders, ``.gz`` and ``.zst`` into bounded streams of lines.

This is the only module of the sources package that opens files. It walks folders,
recognises compression by magic bytes (not by name), decompresses in bounded streaming
fashion, and cuts the stream into chunks of whole lines for the pure parsers. Lines that are
not valid UTF-8, and a truncated last line or compressed stream, are reported as rejects
with their line number; the rest of the file goes on.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl
import zstandard

from workbench.errors import InputError, UnsafeInput

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK_BYTES = 32 << 20
#: largest decompressed size of one file (bytes); a compressed file expanding past it is a bomb
MAX_DECOMPRESSED = 64 << 30
#: largest JSON document (not NDJSON) read whole
MAX_DOCUMENT = 256 << 20
SKIP_NAMES = {".DS_Store", "Thumbs.db"}


@dataclass(frozen=True)
class Reject:
    """A piece of input that could not be read: where, why, and what it looked like."""

    position: str
    reason: str
    excerpt: str
    error: str = "ParseError"


@dataclass
class LineChunk:
    """Whole lines of a file: ``lines`` (polars frame with ``line_no`` and ``line``).

    ``raw`` holds the same lines as bytes when every one of them was valid UTF-8, so that
    CSV parsers can hand the block to a columnar reader untouched.
    """

    lines: pl.DataFrame
    rejects: list[Reject] = field(default_factory=list)
    raw: bytes | None = None


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every file under ``paths`` (folders recursively, sorted, hidden files skipped).

    Raises
    ------
    InputError
        A path does not exist.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith(".") and name not in SKIP_NAMES:
                        yield Path(dirpath) / name
        elif path.is_file():
            yield path
        else:
            raise InputError(str(path), None, "no such file or folder")


def compression_of(head: bytes) -> str | None:
    """``"gzip"``, ``"zstd"`` or ``None`` from a file's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


class _Bounded(io.RawIOBase):
    """A read-only stream that refuses to produce more than ``limit`` bytes."""

    def __init__(self, inner: BinaryIO, limit: int, name: str, raw: BinaryIO) -> None:
        self._inner = inner
        self._raw = raw
        self._left = limit
        self._limit = limit
        self._name = name

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                self._raw.close()
        super().close()

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        if len(data) > self._left:
            raise UnsafeInput(
                self._name, None, f"decompresses to more than {self._limit} bytes; refused as a bomb"
            )
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


class _Gunzip(io.RawIOBase):
    """Streaming gzip (multi-member) that returns every byte decoded before a truncation or
    corruption, then raises ``EOFError`` / ``zlib.error`` on the next read. It never
    decompresses more than the caller asked for, so a bomb is never held in memory."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._d = zlib.decompressobj(wbits=31)
        self._buf = b""
        self._started = False
        self._error: Exception | None = None
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while True:
            if self._error is not None:
                error, self._error = self._error, None
                self._done = True
                raise error
            if self._done:
                return 0
            if self._d.eof:  # next member, if any
                self._buf = self._d.unused_data + self._buf
                self._d = zlib.decompressobj(wbits=31)
                self._started = False
            if self._d.unconsumed_tail:
                data = self._d.unconsumed_tail
            else:
                data, self._buf = self._buf or self._raw.read(1 << 16), b""
                if not data:
                    if self._started:
                        self._error = EOFError("compressed file ended before the end-of-stream marker was reached")
                        continue
                    self._done = True
                    return 0
                if not self._started:
                    data = data.lstrip(b"\0")  # padding between members
                    if not data:
                        continue
            self._started = True
            try:
                out = self._d.decompress(data, len(buffer))
            except zlib.error as exc:
                self._error = exc
                continue
            if out:
                buffer[: len(out)] = out
                return len(out)


def open_stream(path: Path, *, limit: int = MAX_DECOMPRESSED) -> BinaryIO:
    """The decompressed content of ``path`` as a stream, whatever its compression."""
    raw = path.open("rb")
    kind = compression_of(raw.read(4))
    raw.seek(0)
    inner: BinaryIO
    if kind == "gzip":
        inner = _Gunzip(raw)  # type: ignore[assignment]
    elif kind == "zstd":
        inner = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[assignment]
    else:
        return raw
    return _Bounded(inner, limit, str(path), raw)  # type: ignore[return-value]


def read_head(path: Path, size: int = 65536) -> bytes:
    """Up to ``size`` decompressed bytes from the start of ``path`` (for sniffing)."""
    try:
        with open_stream(path) as stream:
            return stream.read(size)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError):
        return b""


def _split_lines(text: bytes) -> pl.Series:
    """Lines of ``text`` (no trailing newline) as a polars string series, CR stripped."""
    frame = pl.read_csv(
        text,
        has_header=False,
        separator="\x00",
        quote_char=None,
        new_columns=["line"],
        schema_overrides={"line": pl.Utf8},
        encoding="utf8-lossy",
        raise_if_empty=False,
        truncate_ragged_lines=True,
    )
    if frame.width == 0:
        return pl.Series("line", [], dtype=pl.Utf8)
    return frame["line"].str.strip_suffix("\r")


def _lines_frame(block: bytes, first_line: int, source: str) -> LineChunk:
    """Decode a block of whole lines; lines with invalid UTF-8 or NUL become rejects."""
    rejects: list[Reject] = []
    clean = b"\x00" not in block
    if clean and not block.isascii():  # ASCII (most logs) is valid UTF-8 without decoding
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            clean = False
    if clean:
        lines = _split_lines(block)
        numbers = pl.int_range(first_line, first_line + len(lines), eager=True, dtype=pl.Int64)
        frame = pl.DataFrame({"line_no": numbers, "line": lines})
        raw: bytes | None = block
    else:
        raw = None
        kept_no: list[int] = []
        kept: list[str] = []
        for offset, raw in enumerate(block.split(b"\n")):
            number = first_line + offset
            try:
                if b"\x00" in raw:
                    raise UnicodeDecodeError("utf-8", raw, raw.index(b"\x00"), raw.index(b"\x00") + 1, "NUL byte")
                kept.append(raw.decode("utf-8").removesuffix("\r"))
                kept_no.append(number)
            except UnicodeDecodeError as exc:
                rejects.append(
                    Reject(
                        f"line {number}",
                        f"not valid UTF-8 at byte {exc.start} of the line ({exc.reason})",
                        raw[:200].decode("utf-8", "backslashreplace"),
                    )
                )
        frame = pl.DataFrame(
            {"line_no": pl.Series(kept_no, dtype=pl.Int64), "line": pl.Series(kept, dtype=pl.Utf8)}
        )
    frame = frame.filter(pl.col("line").str.len_bytes() > 0)
    return LineChunk(frame, rejects, raw)


def iter_line_chunks(
    path: Path, *, chunk_bytes: int = CHUNK_BYTES, limit: int = MAX_DECOMPRESSED
) -> Iterator[LineChunk]:
    """Chunks of whole lines of ``path``, decompressed, with line numbers from 1.

    A truncated compressed stream yields what could be decompressed and a reject naming
    the place; a last line without its newline in a truncated stream is rejected too.

    Raises
    ------
    UnsafeInput
        The file decompresses past ``limit`` bytes.
    """
    source = str(path)
    next_line = 1
    carry = b""
    truncated: Reject | None = None
    with open_stream(path, limit=limit) as stream:
        ended = False
        while not ended:
            pieces = [carry]
            size = len(carry)
            target = max(chunk_bytes, size + 1)  # always read something new
            while size < target:
                try:
                    data = stream.read(max(target - size, 1 << 16))
                except (EOFError, zlib.error, zstandard.ZstdError, OSError) as exc:
                    if isinstance(exc, UnsafeInput):
                        raise
                    truncated = Reject(
                        f"byte {size} of chunk after line {next_line - 1}",
                        f"compressed stream ends early or is corrupt ({exc}); the lines before it were read",
                        "",
                        "ParseError",
                    )
                    data = b""
                if not data:
                    ended = True
                    break
                pieces.append(data)
                size += len(data)
            block = b"".join(pieces)
            cut = block.rfind(b"\n")
            if cut < 0 and not ended:
                carry = block
                continue
            if ended:
                whole, carry = (block[:cut], block[cut + 1 :]) if cut >= 0 else (b"", block)
            else:
                whole, carry = block[:cut], block[cut + 1 :]
            if cut >= 0:
                chunk = _lines_frame(whole, next_line, source)
                next_line += whole.count(b"\n") + 1
                yield chunk
    if carry:
        if truncated is not None:
            yield LineChunk(
                pl.DataFrame(schema={"line_no": pl.Int64, "line": pl.Utf8}),
                [Reject(f"line {next_line}", "truncated line at the end of a truncated stream", carry[:200].decode("utf-8", "backslashreplace"))],
            )
        else:
            yield _lines_frame(carry, next_line, source)
    if truncated is not None:
        yield LineChunk(pl.DataFrame(schema={"line_no": pl.Int64, "line": pl.Utf8}), [truncated])


def read_document(path: Path, *, limit: int = MAX_DOCUMENT) -> bytes:
    """The whole decompressed content of a (small) document.

    Raises
    ------
    UnsafeInput
        The content exceeds ``limit`` bytes.
    InputError
        The compressed stream is corrupt.
    """
    try:
        with open_stream(path, limit=limit) as stream:
            data = stream.read(limit + 1)
    except UnsafeInput:
        raise
    except (EOFError, zlib.error, zstandard.ZstdError, OSError) as exc:
        raise InputError(str(path), None, f"cannot decompress: {exc}") from exc
    if len(data) > limit:
        raise UnsafeInput(str(path), None, f"document larger than {limit} bytes; refused")
    return data
