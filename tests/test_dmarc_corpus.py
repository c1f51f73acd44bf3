"""Conformance over ../shared/corpus/dmarc: every file parsed or quarantined with a reason,
none dropped silently or loaded in part, and exact values on several (skipped without it)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from conftest import require_corpus

from workbench.store import Store
from workbench.store.loading import load_paths

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def corpus() -> Path:
    return require_corpus("dmarc")


@pytest.fixture(scope="module")
def loaded(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, object]]:
    from conftest import ROOT

    from workbench.config import Settings

    store = Store(Settings.load(root=ROOT, db_path=tmp_path_factory.mktemp("corpus") / "c.duckdb", lock_timeout=60.0))
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.name not in ("MANIFEST.tsv", "LICENSE"))
    summary = load_paths(store, files)
    results = {str(Path(f.path).relative_to(corpus)): f for f in summary.files}
    return store, results


def manifest(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "MANIFEST.tsv").open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_every_file_is_parsed_or_quarantined_with_a_reason(corpus: Path, loaded: tuple[Store, dict]) -> None:
    store, results = loaded
    rows = manifest(corpus)
    assert len(rows) == 34 and set(results) == {r["path"] for r in rows}
    quarantined = {str(Path(f).relative_to(corpus)): reason for f, reason in store.query(
        "SELECT file, string_agg(reason, ' | ') FROM quarantine WHERE error NOT IN ('Warning', 'Duplicate', 'Replaced') GROUP BY file").rows()}
    for row in rows:
        path, result = row["path"], results[row["path"]]
        accounted = result.rows_loaded + result.rows_duplicate
        if row["parsedmarc_11.1.0"].startswith("ok"):
            assert result.status == "loaded" and accounted > 0 and path not in quarantined, (path, result, quarantined.get(path))
        else:
            assert quarantined.get(path), path


def test_record_counts_match_the_manifest(corpus: Path, loaded: tuple[Store, dict]) -> None:
    store, results = loaded
    by_file = dict(store.query(
        "SELECT source_file, sum(record_count) FROM dmarc_reports GROUP BY 1").rows())
    for row in manifest(corpus):
        if row["payload"] in ("xml", "email") and row["records"] and row["path"].startswith(("aggregate", "extract_report")):
            path = str(corpus / row["path"])
            result = results[row["path"]]
            # every record accounted for: loaded, or a duplicate of (or replaced by) the same report from another file
            assert result.rows_loaded + result.rows_duplicate == int(row["records"]) + 1, row["path"]
            if path in by_file:
                assert by_file[path] == int(row["records"]), row["path"]


def test_malformed_files_are_flagged(corpus: Path, loaded: tuple[Store, dict]) -> None:
    store, _ = loaded
    notes = store.query("SELECT regexp_extract(file, '[^/]+$') AS name, error, reason FROM quarantine ORDER BY 1, 2, 3").rows()
    by_name: dict[str, list[tuple[str, str]]] = {}
    for name, error, reason in notes:
        by_name.setdefault(name, []).append((error, reason))
    assert any(e == "ParseError" and "empty file" in r for e, r in by_name["empty.xml"])
    assert any(e == "Warning" and "invalid UTF-8 at byte 706" in r for e, r in by_name["invalid_utf_8.xml"])
    assert any(e == "Duplicate" for e, _ in by_name["invalid_utf_8.xml"])  # same org + id as !example.com…
    assert any(e == "Warning" and "recovered by lxml" in r for e, r in by_name["invalid_xml.xml"])
    assert any(e == "Warning" and "wrapper was ignored" in r for e, r in by_name["ikea.com!example.de!1538690400!1538776800.xml"])
    # the clean veeam report wins over the recovered copy of the same report, whatever the order
    assert store.scalar("SELECT org_email FROM dmarc_reports WHERE org_name = 'veeam.com'") == "noreply.it.dmarc@veeam.com"


def test_exact_values_rfc9990(loaded: tuple[Store, dict]) -> None:
    store, _ = loaded
    report = store.query("SELECT * FROM dmarc_reports WHERE report_id = 'dmarcbis-test-report-001'").row(0, named=True)
    assert {k: report[k] for k in ("org_name", "org_email", "version", "schema", "policy_domain", "adkim", "aspf", "p", "sp",
                                   "np", "testing", "discovery_method", "fo", "pct", "record_count", "message_count")} == {
        "org_name": "example.net", "org_email": "postmaster@example.net", "version": "2.0", "schema": "rfc9990",
        "policy_domain": "example.com", "adkim": "s", "aspf": "s", "p": "reject", "sp": "quarantine", "np": "reject",
        "testing": "y", "discovery_method": "treewalk", "fo": "1", "pct": None, "record_count": 2, "message_count": 7}
    assert (report["begin_ts"], report["end_ts"]) == (datetime(2023, 11, 14, 22, 13, 20), datetime(2023, 11, 15, 22, 13, 19))
    rec = store.query("SELECT * FROM dmarc_records WHERE report_key = $k AND record_no = 1", {"k": report["report_key"]}).row(0, named=True)
    assert {k: rec[k] for k in ("source_ip", "count", "disposition", "policy_dkim", "policy_spf", "reason_types",
                                "reason_comments", "envelope_from", "header_from", "dkim")} == {
        "source_ip": "203.0.113.10", "count": 2, "disposition": "reject", "policy_dkim": "fail", "policy_spf": "fail",
        "reason_types": ["other"], "reason_comments": ["sender not authorized"], "envelope_from": "spoofed.example.com",
        "header_from": "example.com", "dkim": None}
    assert rec["spf"] == [{"domain": "spoofed.example.com", "scope": "mfrom", "result": "fail", "human_result": None}]


def test_exact_values_rfc9990_sample_with_namespace(loaded: tuple[Store, dict]) -> None:
    store, _ = loaded
    r = store.query("SELECT r.org_name, r.generator, r.np, r.testing, d.source_ip, d.count, d.disposition, d.dkim "
                    "FROM dmarc_reports r JOIN dmarc_records d USING (report_key) WHERE report_id = '3v98abbp8ya9n3va8yr8oa3ya'").row(0)
    assert r == ("Sample Reporter", "Example DMARC Aggregate Reporter v1.2", "none", "n", "192.0.2.123", 123, "pass",
                 [{"domain": "example.com", "selector": "abc123", "result": "pass", "human_result": None}])


def test_exact_values_upper_case_and_empty_reason(loaded: tuple[Store, dict]) -> None:
    store, _ = loaded
    r = store.query("SELECT r.org_name, d.disposition, d.policy_dkim, d.policy_spf, d.dkim[1].result, d.dkim[1].human_result "
                    "FROM dmarc_reports r JOIN dmarc_records d USING (report_key) "
                    "WHERE report_id = 'aggr_report_example.com_20191202_1638'").row(0)
    assert r == ("example.com", "none", "pass", "pass", "pass", "verify result: all signatures verified")
    e = store.query("SELECT d.count, d.reason_types, d.envelope_to, d.spf[1].scope, r.extra_contact_info FROM dmarc_reports r "
                    "JOIN dmarc_records d USING (report_key) WHERE report_id = '20240125141224705995'").row(0)
    assert e == (2, None, "example.net", "mfrom", "https://support.example.org/dmarc")


def test_exact_values_mail_containers(loaded: tuple[Store, dict]) -> None:
    store, _ = loaded
    mimecast = store.query("SELECT org_name, policy_domain, source_part FROM dmarc_reports WHERE source_file LIKE '%mimecast-weird-gzip.eml'").row(0)
    assert mimecast[0] == "Mimecast" and mimecast[1] == "ab.id.au" and mimecast[2].startswith("part 1 (mimecast.org!ab.id.au!")
    google = store.query("SELECT org_name, policy_domain, record_count FROM dmarc_reports WHERE source_file LIKE '%borschow.com%'").row(0)
    assert google == ("google.com", "borschow.com", 1)
    twilight = store.query("SELECT org_name, source_part FROM dmarc_reports WHERE source_file LIKE '%twilight.eml'").row(0)
    assert twilight[0] == "google.com" and ".zip" in twilight[1]
    assert store.scalar("SELECT count(*) FROM dmarc_reports WHERE report_id = '11038226378739404135'") == 2  # google and fred


def test_exact_values_failure_reports(loaded: tuple[Store, dict]) -> None:
    store, results = loaded
    rows = {r["source_file"].rsplit("/", 1)[1]: r for r in store.query("SELECT * FROM dmarc_failures").to_dicts()}
    assert len(rows) == 4  # the two LinkedIn captures are one report
    assert results["failure/dmarc_ruf_report_linkedin.eml"].rows_duplicate + results["failure/dmarc_ruf_report_linkedin.crlf.eml"].rows_duplicate == 2
    d = rows["DMARC Failure Report for domain.de (mail-from=sharepoint@domain.de, ip=10.10.10.10).eml"]
    assert (d["format"], d["source_ip"], d["original_mail_from"], d["original_rcpt_to"], d["reported_domain"], d["auth_failure"],
            d["delivery_result"], d["user_agent"], d["arrival_date"]) == (
        "arf", "10.10.10.10", "sharepoint@domain.de", "peter.pan@domain.de", "domain.de", "dmarc", "smg-policy-action",
        "Lua/1.0", datetime(2018, 10, 1, 9, 20, 27))
    n = rows["[Netease DMARC Failure Report] Rent Reminder.eml"]  # base64 feedback part inside multipart/mixed
    assert (n["source_ip"], n["reported_domain"], n["dkim_domain"], n["identity_alignment"], n["subject"], n["header_from"]) == (
        "167.89.69.24", "cardinal.com", "entrata.com", "spf,dkim", "Rent Reminder", "cardinal.com")
    e = rows["exim_plain_text_only_no_arf_part.eml"]
    assert (e["format"], e["source_ip"], e["reported_domain"], e["identity_alignment"], e["message_id"]) == (
        "text", "203.0.113.68", "example.com", "none", "<134117F8-2145-AECE-9CCA-25FC98731341@example.com>")


def test_exact_values_tls_reports(loaded: tuple[Store, dict]) -> None:
    store, _ = loaded
    rfc = store.query("SELECT p.policy_domain, p.mx_host, p.successful_sessions, p.failed_sessions, count(f.detail_no) "
                      "FROM tlsrpt_reports r JOIN tlsrpt_policies p USING (report_key) LEFT JOIN tlsrpt_failures f USING (report_key, policy_no) "
                      "WHERE r.org_name = 'Company-X' GROUP BY ALL").row(0)
    assert rfc == ("company-y.example", ["*.mail.company-y.example"], 5326, 303, 3)
    detail = store.query("SELECT * FROM tlsrpt_failures f JOIN tlsrpt_reports r USING (report_key) "
                         "WHERE r.org_name = 'Company-X' AND detail_no = 2").row(0, named=True)
    assert (detail["result_type"], detail["sending_mta_ip"], detail["receiving_ip"], detail["receiving_mx_hostname"],
            detail["failed_sessions"], detail["failure_reason_code"]) == (
        "validation-failure", "198.51.100.62", "203.0.113.58", "mx-backup.mail.company-y.example", 3, "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED")
    google = store.query("SELECT r.report_id, p.policy_type, p.policy_domain, p.successful_sessions FROM tlsrpt_reports r "
                         "JOIN tlsrpt_policies p USING (report_key) WHERE r.org_name = 'Google Inc.'").row(0)
    assert google == ("2024-09-03T00:00:00Z_cardinalhealth.ca", "no-policy-found", "cardinalhealth.ca", 48)


def test_reloading_the_corpus_changes_nothing(corpus: Path, loaded: tuple[Store, dict]) -> None:
    store, _ = loaded
    before = store.fingerprint()
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.name not in ("MANIFEST.tsv", "LICENSE"))
    again = load_paths(store, files)
    assert {Path(f.path).name for f in again.files if f.status != "skipped"} == {"empty.xml"}  # tried again, fails again
    assert store.fingerprint() == before
