"""Large aggregate reports read in batches: same records as the in-memory read, bounded,
and taken back cleanly when the fast engine refuses part-way."""

from __future__ import annotations

import io
import random
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from conftest import FIXTURES

from workbench.sources.dmarc import aggregate_stream, route
from workbench.sources.dmarc.aggregate import parse_aggregate
from workbench.sources.dmarc.aggregate_stream import AggregateStream, FastRefused
from workbench.store import Store
from workbench.store.loading import load_file

HEAD = (FIXTURES / "dmarc" / "rfc7489.xml").read_bytes().split(b"<record>", 1)[0]


def record(i: int, rng: random.Random) -> bytes:
    dkim = "".join(f"<dkim><domain>d{k}.example</domain><selector>s{k}</selector><result>{rng.choice(['pass', 'fail'])}</result></dkim>"
                   for k in range(rng.choice([0, 0, 1, 2, 3])))
    spf = "<spf><domain>bounce.example</domain><scope>mfrom</scope><result>pass</result></spf>" if rng.random() < 0.7 else ""
    reason = "<reason><type>forwarded</type></reason>" if i % 7 == 0 else ""
    return (f"<record><row><source_ip>10.0.{i // 256}.{i % 256}</source_ip><count>{i + 1}</count><policy_evaluated>"
            f"<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>{reason}</policy_evaluated></row>"
            f"<identifiers><header_from>Brightmart.example</header_from></identifiers>"
            f"<auth_results>{dkim}{spf}</auth_results></record>\n").encode()


def document(n: int, seed: int = 1, *, tamper: dict[int, bytes] | None = None) -> bytes:
    rng = random.Random(seed)
    body = [record(i, rng) for i in range(n)]
    for i, text in (tamper or {}).items():
        body[i] = text
    return HEAD + b"".join(body) + b"</feedback>\n"


def records_of(tables: list[pa.Table]) -> pl.DataFrame:
    frame = pl.from_arrow(pa.concat_tables(tables))
    assert isinstance(frame, pl.DataFrame)
    return frame


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregate_stream, "BATCH_ROWS", 37)
    monkeypatch.setattr(route, "STREAM_FROM", 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stream_gives_the_in_memory_records(small_batches: None, seed: int) -> None:
    data = document(500, seed)
    expected = parse_aggregate(data)
    stream = AggregateStream(data, "doc", data[:4096])
    meta = stream.read_meta()
    frames = list(stream)
    assert len(frames) > 3
    got = records_of(frames)
    assert got.to_dicts() == expected.records.to_dicts()
    assert {k: v for k, v in meta.items()} == expected.meta
    assert (stream.records, stream.messages) == (500, sum(range(1, 501)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_frames_are_shaped_a_batch_at_a_time(small_batches: None, seed: int) -> None:
    # shaping costs a fixed amount a call: records wait until a batch's worth of rows has
    # arrived instead of being shaped after every engine batch (then 27-28 frames here)
    data = document(500, seed)
    stream = AggregateStream(data, "doc", data[:4096])
    stream.read_meta()
    sizes = [len(f) for f in stream]
    assert sum(sizes) == 500
    assert len(sizes) <= 500 // 37 + 3, sizes


def test_stream_from_a_path(tmp_path: Path, small_batches: None) -> None:
    path = tmp_path / "r.xml"
    path.write_bytes(document(120))
    stream = AggregateStream(str(path), str(path), path.read_bytes()[:4096])
    assert sum(len(f) for f in stream) == 120 and stream.meta is not None


def test_load_streams_and_matches(store: Store, tmp_path: Path, small_batches: None, monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[int] = []
    original = AggregateStream.__init__

    def spy(self: AggregateStream, *args: object, **kwargs: object) -> None:
        used.append(1)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(AggregateStream, "__init__", spy)
    path = tmp_path / "big.xml"
    path.write_bytes(document(300))
    result = load_file(store, path)
    assert used and result.rows_loaded == 301 and result.rows_quarantined == 0
    stored = store.query("SELECT * EXCLUDE (report_key) FROM dmarc_records ORDER BY record_no")
    assert stored.to_dicts() == parse_aggregate(path.read_bytes()).records.to_dicts()
    report = store.query("SELECT record_count, message_count, warnings FROM dmarc_reports").row(0)
    assert report == (300, sum(range(1, 301)), 0)
    again = tmp_path / "again.xml.gz"
    import gzip

    again.write_bytes(gzip.compress(path.read_bytes()))
    dup = load_file(store, again)
    assert (dup.rows_loaded, dup.rows_duplicate, dup.rows_quarantined) == (0, 301, 0)


def test_refusal_part_way_falls_back_without_leftovers(store: Store, tmp_path: Path, small_batches: None) -> None:
    broken = b"<record><row><source_ip>10.9.9.9</source_ip><count>5</count></row><identifiers><header_from>x</header_from></identifiers></recordd>\n"
    path = tmp_path / "broken.xml"
    path.write_bytes(document(300, tamper={250: broken}))
    result = load_file(store, path)
    assert result.status == "loaded" and result.rows_quarantined >= 1
    assert store.scalar("SELECT count(*) FROM dmarc_records") == store.scalar("SELECT record_count FROM dmarc_reports")
    assert store.scalar("SELECT count(*) FROM dmarc_records") >= 250
    assert "recovered by lxml" in store.scalar("SELECT string_agg(reason, ' ') FROM quarantine")


def test_bad_count_part_way_refuses_the_report_whole(store: Store, tmp_path: Path, small_batches: None) -> None:
    rng = random.Random(9)
    path = tmp_path / "badcount.xml"
    path.write_bytes(document(300, tamper={280: record(280, rng).replace(b"<count>281</count>", b"<count>lots</count>")}))
    result = load_file(store, path)
    assert result.status == "failed"
    assert store.counts()["dmarc_records"] == 0 and store.counts()["dmarc_reports"] == 0
    assert "refused whole" in store.scalar("SELECT reason FROM quarantine")


def test_read_meta_refuses_documents_without_a_report_id() -> None:
    data = b"<wrap><feedback><report_metadata><org_name>x</org_name><report_id>1</report_id></report_metadata></feedback></wrap>"
    with pytest.raises(FastRefused):
        AggregateStream(data, "w", data).read_meta()


def padded(data: bytes) -> bytes:
    """The document with values padded by whitespace, keywords in capitals and empty or blank
    optional fields, as some reporters write them."""
    for tag in (b"source_ip", b"result", b"domain", b"header_from", b"disposition"):
        data = data.replace(b"<" + tag + b">", b"<" + tag + b">\n   ").replace(b"</" + tag + b">", b" \t</" + tag + b">")
    return (data.replace(b"<result>\n   pass", b"<result>\n   Pass")
            .replace(b"</scope>", b"</scope><human_result>   </human_result>")
            .replace(b"</selector>", b"</selector><human_result></human_result>"))


def test_the_trimming_engine_reads_what_the_stripping_one_reads(small_batches: None) -> None:
    data = padded(document(300, seed=4))
    _, clean, plain = route.prepass(io.BytesIO(data))
    assert clean and plain
    expected = parse_aggregate(data).records  # in memory: values stripped afterwards
    trimmed = AggregateStream(data, "doc", data[:4096], trimmed=True)
    trimmed.read_meta()
    got = records_of(list(trimmed))
    assert got.to_dicts() == expected.to_dicts()
    assert got["source_ip"][0] == "10.0.0.0" and set(got["dkim"].explode().struct.field("result").drop_nulls()) <= {"pass", "fail"}
    spf = got["spf"].explode().drop_nulls()
    assert len(spf) > 100 and spf.struct.field("human_result").null_count() == len(spf)  # blank is null


@pytest.mark.parametrize(("piece", "value"), [
    (b"<human_result>A &amp; B</human_result>", "A & B"), (b"<human_result>A<!-- c --> B</human_result>", "A B"),
    (b"<human_result><![CDATA[ A B ]]></human_result>", "A B"), (b"<human_result>A <?pi x?> B</human_result>", "A  B")])
def test_values_with_split_text_are_not_trimmed_piecewise(store: Store, tmp_path: Path, small_batches: None, piece: bytes,
                                                          value: str) -> None:
    data = document(200).replace(b"</scope>", b"</scope>" + piece, 1)
    _, clean, plain = route.prepass(io.BytesIO(data))
    assert clean and not plain
    path = tmp_path / "split.xml"
    path.write_bytes(data)
    assert load_file(store, path).rows_loaded == 201
    stored = store.scalar("SELECT spf[1].human_result FROM dmarc_records WHERE spf[1].human_result IS NOT NULL")
    assert stored == value  # the value whole, its inner spaces kept


@pytest.mark.parametrize(("piece", "engines", "trimmed"), [
    (b"", 1, True),  # plain: the engine started before the pre-pass is the one used
    (b"<human_result>A &amp; B</human_result>", 2, False),  # an entity: restarted without trimming
    (b"<human_result>x</human_result><extension><x>1</x></extension>", 1, None),  # <extension>: read in memory
])
def test_the_engine_starts_before_the_prepass_and_is_kept_only_when_fit(
        tmp_path: Path, small_batches: None, monkeypatch: pytest.MonkeyPatch, piece: bytes, engines: int, trimmed: bool | None) -> None:
    made: list[AggregateStream] = []
    closed: list[AggregateStream] = []
    original, close = AggregateStream.__init__, AggregateStream.close

    def spy(self: AggregateStream, *args: object, **kwargs: object) -> None:
        made.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    def spy_close(self: AggregateStream) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(AggregateStream, "__init__", spy)
    monkeypatch.setattr(AggregateStream, "close", spy_close)
    path = tmp_path / "r.xml"
    path.write_bytes(document(200).replace(b"</scope>", b"</scope>" + piece, 1))
    with path.open("rb") as handle:
        (found,) = route.reports_in_payloads(handle, str(path))
    assert len(made) == engines and made[0].trimmed
    if trimmed is None:
        assert not isinstance(found.report, route.LazyAggregate) and closed == made
        assert found.report is not None and len(found.report.records) == 200  # type: ignore[union-attr]
    else:
        assert isinstance(found.report, route.LazyAggregate) and found.report.stream is made[-1]
        assert found.report.stream.trimmed is trimmed and closed == made[:-1]
        found.report.stream.read_meta()
        assert sum(len(t) for t in found.report.stream) == 200


@pytest.mark.parametrize("bad", [False, True])
def test_stream_inserts_run_with_duckdb_on_one_thread_and_restore_it(store: Store, tmp_path: Path, small_batches: None,
                                                                     monkeypatch: pytest.MonkeyPatch, bad: bool) -> None:
    from workbench.store.loading import FileSink

    during: list[int] = []
    report_row: list[int] = []
    add_rows, add_row = FileSink.add_rows, FileSink.add_row

    def threads(sink: FileSink) -> int:
        row = sink.con.execute("SELECT current_setting('threads')").fetchone()
        return int(row[0]) if row else -1

    def spy(self: FileSink, table: str, frame: object) -> None:
        during.append(threads(self))
        add_rows(self, table, frame)  # type: ignore[arg-type]

    def spy_row(self: FileSink, table: str, row: dict[str, object]) -> None:
        report_row.append(threads(self))
        add_row(self, table, row)

    monkeypatch.setattr(FileSink, "add_rows", spy)
    monkeypatch.setattr(FileSink, "add_row", spy_row)
    store.execute("SET threads = 2")
    rng = random.Random(9)
    tamper = {280: record(280, rng).replace(b"<count>281</count>", b"<count>lots</count>")} if bad else None
    path = tmp_path / "r.xml"
    path.write_bytes(document(300, tamper=tamper))
    result = load_file(store, path)
    assert result.status == ("failed" if bad else "loaded")
    assert during and set(during) == {1}
    assert report_row == ([] if bad else [2])  # the report row, inserted after the records
    assert store.scalar("SELECT current_setting('threads')") == 2


def test_a_dtd_is_refused_before_any_engine_reads_the_document(tmp_path: Path, small_batches: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.errors import UnsafeInput

    made: list[object] = []
    monkeypatch.setattr(AggregateStream, "__init__", lambda self, *a, **k: made.append(a))
    path = tmp_path / "laughs.xml"
    laughs = b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    path.write_bytes(laughs + document(200).split(b"?>", 1)[-1].replace(b"<org_name>", b"<org_name>&b;", 1))
    with path.open("rb") as handle:
        (found,) = route.reports_in_payloads(handle, str(path))
    assert isinstance(found.error, UnsafeInput) and made == []


def test_a_batch_shaped_by_polars_has_the_schema_of_the_others(small_batches: None) -> None:
    # a signed count takes the polars path for its batch: the stream's tables still concatenate
    data = document(200).replace(b"<count>100</count>", b"<count>+100</count>", 1)
    stream = AggregateStream(data, "doc", data[:4096])
    stream.read_meta()
    tables = list(stream)
    assert len({t.schema for t in tables}) == 1 and len(tables) > 3
    got = records_of(tables)
    assert got["count"][99] == 100 and got.to_dicts() == parse_aggregate(data).records.to_dicts()


@pytest.mark.parametrize(("block", "found"), [
    (b"", False), (b"x", False), (b"<extension", True), (b"<extensions/>", True), (b"ab<extension>cdefghijk", True),
    (b"<e<extension>", True), (b"<extensio", False), (b"<ext ension>", False), (b"<exte" + b"x" * 40, False),
    (b"example.com <xml> <extra_contact_info>x</extra_contact_info>", False), (b"x" * 5000 + b"<extension>" + b"x" * 5000, True),
])
def test_has_extension_finds_the_element_and_nothing_else(block: bytes, found: bool) -> None:
    from workbench.sources.dmarc.xmlsafe import has_extension

    assert has_extension(block) is found is (b"<extension" in block)


@pytest.mark.parametrize("at", [(1 << 20) - 12, (1 << 20) - 5, (1 << 20) - 1, 1 << 20, (1 << 20) + 3])
def test_the_prepass_finds_an_extension_wherever_it_falls_in_its_blocks(at: int) -> None:
    data = document(20)
    head, tail = data.split(b"<record>", 1)
    data = head + b" " * (at - len(head)) + b"<extension><x>1</x></extension><record>" + tail
    assert data.index(b"<extension") == at
    _, clean, _ = route.prepass(io.BytesIO(data))
    assert not clean
    _, clean, _ = route.prepass(io.BytesIO(data.replace(b"<extension><x>1</x></extension>", b"")))
    assert clean
