from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
import zstandard

from workbench.errors import InputError, UnsafeInput
from workbench.sources.reader import (
    compression_of,
    iter_files,
    iter_line_chunks,
    read_document,
    read_head,
)

LINES = b"".join(b"line %d\n" % i for i in range(1, 1001))


def _all_lines(path: Path, **kw: object) -> tuple[list[tuple[int, str]], list[str]]:
    got, rejects = [], []
    for chunk in iter_line_chunks(path, **kw):  # type: ignore[arg-type]
        got += list(chunk.lines.iter_rows())
        rejects += [f"{r.position}: {r.reason}" for r in chunk.rejects]
    return got, rejects


@pytest.mark.parametrize("kind", ["plain", "gzip", "zstd"])
def test_compression_is_recognised_by_content_not_name(tmp_path: Path, kind: str) -> None:
    data = {"plain": LINES, "gzip": gzip.compress(LINES), "zstd": zstandard.ZstdCompressor().compress(LINES)}[kind]
    path = tmp_path / "log.txt"  # the name says nothing
    path.write_bytes(data)
    assert compression_of(path.read_bytes()[:4]) == (None if kind == "plain" else kind)
    got, rejects = _all_lines(path, chunk_bytes=1000)
    assert [n for n, _ in got] == list(range(1, 1001))
    assert got[41] == (42, "line 42")
    assert not rejects
    assert read_head(path, 12) == b"line 1\nline "


def test_crlf_and_blank_lines_keep_numbering(tmp_path: Path) -> None:
    path = tmp_path / "crlf.log"
    path.write_bytes(b"a\r\n\r\nb\r\n")
    got, _ = _all_lines(path)
    assert got == [(1, "a"), (3, "b")]


def test_truncated_gzip_keeps_what_was_readable_and_says_where(tmp_path: Path) -> None:
    text = b"".join(b"line %d %s\n" % (i, hashlib.sha256(b"%d" % i).hexdigest().encode()) for i in range(1, 20001))
    data = gzip.compress(text)
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    got, rejects = _all_lines(path, chunk_bytes=4096)
    assert 5000 < len(got) < 20000
    assert [n for n, _ in got] == list(range(1, len(got) + 1))
    assert got[0][1].startswith("line 1 ")
    assert any("compressed stream ends early" in r for r in rejects)
    assert any("truncated line" in r for r in rejects)


def test_invalid_utf8_and_nul_lines_are_rejected_alone(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    path.write_bytes(b"good 1\nbad \xff\xfe here\ngood 3\nnul \x00 byte\ngood 5\n")
    got, rejects = _all_lines(path)
    assert got == [(1, "good 1"), (3, "good 3"), (5, "good 5")]
    assert rejects[0].startswith("line 2: not valid UTF-8")
    assert rejects[1].startswith("line 4:")


def test_decompression_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        block = b"\0" * (1 << 20)
        for _ in range(64):
            out.write(block)
    assert path.stat().st_size < 200_000
    with pytest.raises(UnsafeInput, match="bomb"):
        _all_lines(path, limit=8 << 20)
    with pytest.raises(UnsafeInput):
        read_document(path, limit=1 << 20)


def test_iter_files_walks_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.log").write_text("x")
    (tmp_path / "b" / "c.log").write_text("x")
    (tmp_path / ".hidden").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "obj").write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in iter_files([tmp_path])] == ["a.log", "b/c.log"]
    with pytest.raises(InputError, match="no such file"):
        list(iter_files([tmp_path / "missing"]))
