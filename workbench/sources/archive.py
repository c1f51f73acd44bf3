"""Bounded unpacking of gzip and zip payloads, from files or from bytes (mail attachments).

Reports arrive as ``.xml``, ``.xml.gz``, ``.zip`` (every member), ``.json(.gz)``, or as mail
attachments holding any of those. :func:`unpack` turns one such container into its payloads,
decompressing in streaming fashion into a spool that keeps at most :data:`SPOOL_IN_MEMORY`
bytes in memory and the rest in a temporary file, so that a decompression bomb is never held
expanded in memory: it is refused once it expands past ``limit`` bytes, or earlier when it
expands past :data:`RATIO_FROM` bytes at more than :data:`MAX_RATIO` times its compressed size
(real reports compress 10–50 times; bombs about 1000 times).
"""

from __future__ import annotations

import io
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from workbench.errors import InputError, UnsafeInput

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
#: largest expanded payload (one report document)
MAX_PAYLOAD = 512 << 20
#: bytes of a payload kept in memory before the spool moves to a temporary file
SPOOL_IN_MEMORY = 16 << 20
#: past this many expanded bytes, a compression ratio above MAX_RATIO is taken for a bomb
RATIO_FROM = 8 << 20
MAX_RATIO = 200
#: members of one zip archive read at most
MAX_MEMBERS = 1000
_CHUNK = 1 << 20
_IN_CHUNK = 64 << 10


@dataclass
class Payload:
    """One document out of a container: its name and a seekable stream of its bytes."""

    name: str
    stream: IO[bytes]
    size: int
    warnings: list[str] = field(default_factory=list)

    def read(self) -> bytes:
        self.stream.seek(0)
        return self.stream.read()

    def close(self) -> None:
        self.stream.close()


def kind_of(head: bytes) -> str | None:
    """``"gzip"``, ``"zip"`` or ``None`` from the first bytes of a payload."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    return None


def _spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, mode="w+b")


class _Meter:
    def __init__(self, source: str, limit: int) -> None:
        self.source, self.limit = source, limit

    def check(self, expanded: int, compressed: int) -> None:
        if expanded > self.limit:
            raise UnsafeInput(self.source, f"byte {compressed} of the compressed data",
                              f"expands past {self.limit} bytes; refused as a decompression bomb")
        if expanded > RATIO_FROM and expanded > MAX_RATIO * max(compressed, 1):
            raise UnsafeInput(self.source, f"byte {compressed} of the compressed data",
                              f"expands {expanded // max(compressed, 1)}-fold ({expanded} bytes from {compressed}); "
                              "refused as a decompression bomb")


def gunzip_stream(raw: BinaryIO, source: str, *, limit: int | None = None) -> Payload:
    """Decompress a gzip stream (several members allowed) into a spool, bounded.

    Bytes after the last member that are not another member (a CRLF some mailers append)
    are ignored with a warning.

    Raises
    ------
    UnsafeInput
        The stream expands past ``limit`` or at a bomb's ratio.
    InputError
        The stream is not gzip, or is truncated or corrupt.
    """
    limit = MAX_PAYLOAD if limit is None else limit
    out = _spool()
    meter = _Meter(source, limit)
    warnings: list[str] = []
    expanded = compressed = 0
    d = zlib.decompressobj(wbits=31)
    try:
        while True:
            chunk = d.unconsumed_tail or raw.read(_IN_CHUNK)
            if not d.unconsumed_tail:
                compressed += len(chunk)
            if not chunk:
                if not d.eof:
                    raise InputError(source, f"byte {compressed}", "gzip stream ends early (truncated)")
                break
            block = d.decompress(chunk, _CHUNK)
            expanded += len(block)
            meter.check(expanded, compressed)
            out.write(block)
            if d.eof:
                rest = d.unused_data + raw.read()
                compressed += len(rest) - len(d.unused_data)
                if rest.startswith(GZIP_MAGIC):
                    d = zlib.decompressobj(wbits=31)
                    raw = io.BytesIO(rest)
                    continue
                if rest.strip():
                    warnings.append(f"{len(rest)} byte(s) after the end of the gzip data ignored")
                break
    except zlib.error as exc:
        out.close()
        raise InputError(source, f"byte {compressed}", f"corrupt gzip data ({exc})") from exc
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return Payload(source, out, expanded, warnings)


def _zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, limit: int) -> Payload:
    name = f"{source}!{info.filename}"
    if info.flag_bits & 0x1:
        raise InputError(source, f"member {info.filename}", "encrypted zip member; cannot read it")
    out = _spool()
    meter = _Meter(name, limit)
    expanded = 0
    try:
        with zf.open(info) as member:
            while block := member.read(_IN_CHUNK):
                expanded += len(block)
                consumed = info.compress_size - int(getattr(member, "_compress_left", 0) or 0)
                meter.check(expanded, consumed)
                out.write(block)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        out.close()
        raise InputError(source, f"member {info.filename}", f"corrupt zip member ({exc})") from exc
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return Payload(name, out, expanded)


def iter_zip(file: str | Path | IO[bytes], source: str, *, limit: int | None = None) -> Iterator[Payload]:
    """Every file member of a zip archive, each decompressed into its own bounded spool.

    The total of all members is bounded by ``limit`` too (overlapping-member bombs).

    Raises
    ------
    UnsafeInput
        A member or the whole expands past ``limit``, or the archive has too many members.
    InputError
        The archive is corrupt.
    """
    limit = MAX_PAYLOAD if limit is None else limit
    try:
        zf = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(source, "central directory", f"not a readable zip archive ({exc})") from exc
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise UnsafeInput(source, "central directory", f"{len(infos)} members; at most {MAX_MEMBERS} are read")
        total = 0
        for info in infos:
            payload = _zip_member(zf, info, source, limit - total)
            total += payload.size
            yield payload


def unpack(data: bytes | IO[bytes], name: str, *, limit: int | None = None, depth: int = 0) -> Iterator[Payload]:
    """The documents inside ``data``: itself, its gzip content, or every zip member (and
    their gzip content), each as a bounded spool, valid until the next one is drawn.

    Raises
    ------
    UnsafeInput
        Bombs, or containers nested more than twice.
    InputError
        Corrupt compressed data.
    """
    limit = MAX_PAYLOAD if limit is None else limit
    stream: IO[bytes] = io.BytesIO(data) if isinstance(data, bytes) else data
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    kind = kind_of(head)
    if kind is None:
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        yield Payload(name, stream, size)
        return
    if depth >= 2:
        raise UnsafeInput(name, "-", "compressed archives nested more than twice; refused")
    if kind == "gzip":
        payload = gunzip_stream(stream, name, limit=limit)  # type: ignore[arg-type]
        try:
            for inner in unpack(payload.stream, name.removesuffix(".gz"), limit=limit, depth=depth + 1):
                inner.warnings[:0] = payload.warnings
                yield inner
        finally:
            payload.close()
        return
    for member in iter_zip(stream, name, limit=limit):
        try:
            yield from unpack(member.stream, member.name, limit=limit, depth=depth + 1)
        finally:
            member.close()
