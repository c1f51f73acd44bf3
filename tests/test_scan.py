from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import duckdb
import pytest
import zstandard

from workbench.errors import UnsafeInput
from workbench.sources import scan, sqlparse
from workbench.sources.sendlogs import generic, pmta, postfix, sendgrid

LINES = b"".join(b"line %d\n" % i for i in range(1, 2001))


def test_a_plain_file_is_read_in_place(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(LINES)
    with scan.plain_copy(path) as (plain, damaged):
        assert plain == path and not damaged


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_compressed_file_is_spooled_decompressed_and_the_spool_removed(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "log.anything"  # recognised by content, not by name
    path.write_bytes(gzip.compress(LINES) if kind == "gzip" else zstandard.ZstdCompressor().compress(LINES))
    with scan.plain_copy(path) as (plain, damaged):
        assert plain != path and plain.read_bytes() == LINES and not damaged
        spool = plain
    assert not spool.exists()


def test_a_truncated_stream_loses_only_its_cut_line(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(b"record %06d with some padding to compress\n" % i for i in range(50_000)))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with scan.plain_copy(path) as (plain, damaged):
        text = plain.read_bytes()
    assert damaged
    assert text.endswith(b"\n") and text.startswith(b"record 000000")
    assert all(line.startswith(b"record ") and len(line) == len(b"record 000000 with some padding to compress")
               for line in text.splitlines())


def test_a_decompression_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        for _ in range(16):
            out.write(b"\0" * (1 << 20))
    with pytest.raises(UnsafeInput, match="bomb"), scan.plain_copy(path, limit=1 << 20):
        pass
    assert not list(Path(tempfile.gettempdir()).glob("workbench-*.spool"))


def test_heads_say_what_each_parser_reads(tmp_path: Path) -> None:
    acct = tmp_path / "acct.csv"
    acct.write_text("type,timeLogged,Rcpt,rcpt\nd,1764230005,a@b.c,x@y.z\n")
    head = scan.head_of(acct, pmta)
    assert head.kind == "records" and head.columns == ("type", "timelogged", "rcpt", "rcpt_2")
    assert head.first_record() == ["d", "1764230005", "a@b.c", "x@y.z"]
    events = tmp_path / "events.jsonl"
    events.write_text('{"ts": "2026-11-27T10:00:00Z", "event_type": "opened"}\n')
    assert scan.head_of(events, generic).kind == "lines"
    assert scan.head_of(acct, generic).kind == "records"
    assert scan.head_of(events, sendgrid).kind == "json"
    assert scan.head_of(events, postfix).kind == "lines"


def test_the_line_reader_keeps_every_byte_of_a_line_and_sets_aside_what_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    path.write_bytes(b"good 1\r\nbad \xff here\n\n#not a comment, \"no quotes\"\tTab\nsoh \x01 x\nnul \x00 x\nlast")
    con = duckdb.connect()
    sink = sqlparse.RejectSink()
    sqlparse.reject_function(con, sink)
    head = sqlparse.head_for(postfix)
    rows = con.execute(scan.relation_sql(head), scan.relation_params(path, head)).fetchall()
    assert [r[1] for r in rows] == ["good 1", '#not a comment, "no quotes"\tTab', "last"]
    assert sink.unplaced == 2  # U+0001 and NUL: refused, to be placed by the exact pass
    assert con.execute(f"SELECT count(*) FROM {scan.REJECT_TABLES[0]}").fetchall() == [(1,)]  # bad UTF-8
