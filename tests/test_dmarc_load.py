"""Loading DMARC, failure and TLS reports through `workbench load`: sniffing, every container,
once per report, and nothing lost without a trace."""

from __future__ import annotations

import gzip
import hashlib
import io
import mailbox as std_mailbox
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import FIXTURES

from workbench.sources import registry
from workbench.sources.reader import read_head
from workbench.store import Store
from workbench.store.loading import load_file, load_paths

DMARC = FIXTURES / "dmarc"


def records_unique(store: Store) -> bool:
    """Every record stored once: (report_key, record_no) is the loader's to keep unique."""
    return bool(store.scalar("SELECT count(*) = count(DISTINCT (report_key, record_no)) FROM dmarc_records"))


def copy(names: list[str], target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(DMARC / name, target / name)
    return target


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("rfc7489.xml", "dmarc"), ("rfc7489.xml.gz", "dmarc"), ("several.zip", "dmarc"), ("rfc9990.xml", "dmarc"),
     ("draft.xml", "dmarc"), ("tlsrpt.json", "tlsrpt"), ("several_attachments.eml", "report-mail"),
     ("failure_arf.eml", "report-mail"), ("failure_text.eml", "report-mail"), ("tlsrpt_mail.eml", "report-mail"),
     ("reports.mbox", "report-mail")],
)
def test_sniffing(name: str, fmt: str) -> None:
    path = DMARC / name
    assert registry.detect(path, read_head(path)).name == fmt


def test_other_formats_are_not_claimed(tmp_path: Path) -> None:
    ndjson = tmp_path / "events.json"
    ndjson.write_text('{"ts": "2026-01-01T00:00:00Z", "event_type": "delivered", "recipient": "a@b.example"}\n')
    assert registry.detect(ndjson, read_head(ndjson)).name == "generic"
    other_zip = tmp_path / "logs.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("a.csv", "ts,event_type\n")
    assert not registry.by_name("dmarc").sniff(read_head(other_zip), other_zip)


def test_everything_loads_once(store: Store, tmp_path: Path) -> None:
    folder = copy(["rfc7489.xml", "rfc9990.xml", "draft.xml", "qp.xml", "tlsrpt.json", "failure_arf.eml",
                   "failure_text.eml", "tlsrpt_mail.eml"], tmp_path / "in")
    summary = load_paths(store, [folder])
    assert summary.rows_quarantined == 0, summary.as_dict()
    counts = store.counts()
    assert (counts["dmarc_reports"], counts["dmarc_records"], counts["dmarc_failures"]) == (4, 6, 2)
    assert (counts["tlsrpt_reports"], counts["tlsrpt_policies"], counts["tlsrpt_failures"]) == (2, 4, 4)
    before = store.fingerprint()
    again = load_paths(store, [folder])
    assert all(f.status == "skipped" for f in again.files)
    assert store.fingerprint() == before


def test_the_same_reports_in_other_containers_are_duplicates(store: Store) -> None:
    load_paths(store, [DMARC / n for n in ("rfc7489.xml", "rfc9990.xml", "draft.xml", "qp.xml")])
    before = store.fingerprint(["dmarc_reports", "dmarc_records"])
    gz = load_file(store, DMARC / "rfc7489.xml.gz")
    several = load_file(store, DMARC / "several.zip")
    mail = load_file(store, DMARC / "several_attachments.eml")
    assert (gz.status, gz.rows_loaded, gz.rows_duplicate) == ("loaded", 0, 3)
    assert (mail.rows_loaded, mail.rows_duplicate) == (0, 10)  # four reports and their six records
    assert several.rows_loaded == 0 and several.rows_quarantined == 1  # readme.txt: not a report, said so
    assert store.fingerprint(["dmarc_reports", "dmarc_records"]) == before
    reasons = store.query("SELECT position, reason FROM quarantine WHERE file LIKE '%several.zip'").rows()
    assert reasons == [("readme.txt: start", "neither a DMARC aggregate report (XML <feedback>) nor an SMTP TLS report (JSON)")]


def test_every_attachment_of_a_mail_is_loaded(store: Store) -> None:
    result = load_file(store, DMARC / "several_attachments.eml")
    assert result.rows_quarantined == 0 and result.rows_loaded == 4 + 6  # four reports, six records
    rows = store.query("SELECT report_id, source_part FROM dmarc_reports ORDER BY report_id").rows()
    assert [r[0] for r in rows] == ["bis-2026-11-27", "draft-42", "qp-0001", "r7489-0001"]
    parts = dict(rows)
    assert parts["r7489-0001"] == ("part 3 (receiver.example!brightmart.example!1764201600!1764287999.zip)"
                                   "!receiver.example!brightmart.example!1764201600!1764287999.xml")
    assert parts["qp-0001"] == "part 5 (qp.xml)"
    assert store.scalar("SELECT org_name FROM dmarc_reports WHERE report_id = 'qp-0001'") == "Réception Exemple"


@pytest.mark.parametrize("streamed", [False, True])
def test_a_large_file_keeps_its_content_hash(store: Store, monkeypatch: pytest.MonkeyPatch, streamed: bool) -> None:
    # large files are hashed while they load: the report still records the document's hash,
    # and the same report in a gzip (hashed when read) is the same content, not "other content"
    from workbench.sources.dmarc import route
    from workbench.store import loading

    monkeypatch.setattr(loading, "OFFERED_HASH", 0)
    monkeypatch.setattr(route, "STREAM_FROM", 0 if streamed else 1 << 30)
    hashed: list[Path] = []
    file_sha256 = loading.file_sha256
    monkeypatch.setattr(loading, "file_sha256", lambda path: hashed.append(path) or file_sha256(path))
    assert load_file(store, DMARC / "rfc7489.xml").rows_loaded == 3  # the report and its two records
    assert hashed == []  # the pre-pass hashed the file while reading it, and offered the hash
    sha = hashlib.sha256((DMARC / "rfc7489.xml").read_bytes()).hexdigest()
    assert store.scalar("SELECT content_sha256 FROM dmarc_reports") == sha
    assert store.scalar("SELECT content_sha256 FROM loaded_files") == sha
    gz = load_file(store, DMARC / "rfc7489.xml.gz")
    assert (gz.rows_loaded, gz.rows_duplicate, gz.rows_quarantined) == (0, 3, 0)
    assert hashed == [DMARC / "rfc7489.xml.gz"]  # a compressed file's own hash: read for it
    gz_sha = hashlib.sha256((DMARC / "rfc7489.xml.gz").read_bytes()).hexdigest()
    assert store.scalar("SELECT count(*) FROM loaded_files WHERE content_sha256 IN (?, ?)", [sha, gz_sha]) == 2


@pytest.mark.parametrize("streamed", [False, True])
def test_an_offered_hash_skips_a_renamed_copy_before_writing_it_and_quarantines_with_the_file_hash(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, streamed: bool) -> None:
    from workbench.sources.dmarc import load as dmarc_load
    from workbench.sources.dmarc import route
    from workbench.store import loading

    monkeypatch.setattr(loading, "OFFERED_HASH", 0)
    monkeypatch.setattr(route, "STREAM_FROM", 0 if streamed else 1 << 30)
    copy = tmp_path / "renamed.xml"
    shutil.copy(DMARC / "rfc7489.xml", copy)
    assert load_file(store, DMARC / "rfc7489.xml").status == "loaded"
    written: list[object] = []
    write = dmarc_load._write
    monkeypatch.setattr(dmarc_load, "_write", lambda *a: written.append(a) or write(*a))
    again = load_file(store, copy)  # a new name: known by the hash its loader computed, before any write
    assert again.status == "skipped" and again.message == "already loaded (same content)" and written == []
    assert store.counts()["dmarc_reports"] == 1 and store.scalar("SELECT count(*) FROM loaded_files") == 1
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<?xml version='1.0'?><feedback><report_metadata></report_metadata></feedback>")
    assert load_file(store, bad).status == "failed"
    assert store.scalar("SELECT content_sha256 FROM quarantine WHERE file = ?", [str(bad)]) == hashlib.sha256(bad.read_bytes()).hexdigest()


def test_same_report_with_other_content_is_kept_once_and_said(store: Store, tmp_path: Path) -> None:
    first = DMARC / "rfc7489.xml"
    changed = tmp_path / "changed.xml"
    changed.write_bytes(first.read_bytes().replace(b"<count>7</count>", b"<count>8</count>"))
    load_file(store, first)
    result = load_file(store, changed)
    assert (result.rows_loaded, result.rows_duplicate, result.rows_quarantined) == (0, 3, 1)
    assert store.scalar("SELECT sum(count) FROM dmarc_records") == 127 and records_unique(store)
    (error, reason), = store.query("SELECT error, reason FROM quarantine").rows()
    assert error == "Duplicate" and "already loaded from other content" in reason and "the first one is kept" in reason


def test_a_clean_copy_replaces_one_read_from_recovered_xml(store: Store, tmp_path: Path) -> None:
    broken = tmp_path / "a-broken.xml"
    broken.write_bytes((DMARC / "rfc7489.xml").read_bytes().replace(b"<email>dmarc-reports@receiver.example</email>",
                                                                     b"<email><x@y></email>"))
    clean = tmp_path / "b-clean.xml"
    shutil.copy(DMARC / "rfc7489.xml", clean)
    load_paths(store, [broken, clean])
    assert store.scalar("SELECT source_file FROM dmarc_reports") == str(clean)
    assert store.scalar("SELECT org_email FROM dmarc_reports") == "dmarc-reports@receiver.example"
    assert store.scalar("SELECT count(*) FROM dmarc_records") == 2 and records_unique(store)
    errors = store.query("SELECT error FROM quarantine ORDER BY error")["error"].to_list()
    assert "Replaced" in errors and "Warning" in errors


def test_warnings_are_recorded_not_lost(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad-utf8.xml"
    bad.write_bytes((DMARC / "rfc7489.xml").read_bytes().replace(b"News.Brightmart", b"N\xe9ws.Brightmart"))
    result = load_file(store, bad)
    assert result.status == "loaded" and result.rows_loaded == 3 and result.rows_quarantined == 1
    assert store.scalar("SELECT header_from FROM dmarc_records WHERE record_no = 0") == "n\ufffdws.brightmart.example"
    assert "invalid UTF-8 at byte" in store.scalar("SELECT reason FROM quarantine WHERE error = 'Warning'")


def test_unsafe_and_broken_files_are_quarantined_with_a_reason(store: Store, tmp_path: Path) -> None:
    (tmp_path / "laughs.xml").write_bytes(b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><feedback>&a;</feedback>')
    bomb = tmp_path / "bomb.xml.gz"
    bomb.write_bytes(gzip.compress(b"<feedback>" + b" " * (40 << 20) + b"</feedback>", compresslevel=1))
    (tmp_path / "truncated.xml.gz").write_bytes(gzip.compress((DMARC / "rfc7489.xml").read_bytes())[:300])
    (tmp_path / "empty.xml").write_bytes(b"")
    (tmp_path / "nocount.xml").write_bytes((DMARC / "draft.xml").read_bytes().replace(b"<count>3</count>", b""))
    summary = load_paths(store, [tmp_path])
    assert summary.exit_code == 2 and summary.rows_loaded == 0
    reasons = dict(store.query("SELECT regexp_extract(file, '[^/]+$') AS f, reason FROM quarantine").rows())
    assert "document type declaration" in reasons["laughs.xml"]
    assert "decompression bomb" in reasons["bomb.xml.gz"]
    assert "truncated" in reasons["truncated.xml.gz"]
    assert "empty file" in reasons["empty.xml"]
    assert "refused whole rather than loaded in part" in reasons["nocount.xml"]
    assert store.counts()["dmarc_reports"] == 0


def test_mbox_every_message(store: Store) -> None:
    result = load_file(store, DMARC / "reports.mbox")
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    position, reason = store.query("SELECT position, reason FROM quarantine").row(0)
    assert position == "2: message" and "no DMARC or TLS report attached" in reason and "Your weekly newsletter" in reason


def test_maildir_folder_loads_like_files(store: Store, tmp_path: Path) -> None:
    box = std_mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for name in ("several_attachments.eml", "tlsrpt_mail.eml", "failure_arf.eml"):
        box.add((DMARC / name).read_bytes())
    box.close()
    summary = load_paths(store, [tmp_path / "Maildir"])
    assert summary.rows_quarantined == 0 and len(summary.files) == 3
    counts = store.counts()
    assert (counts["dmarc_reports"], counts["tlsrpt_reports"], counts["dmarc_failures"]) == (4, 1, 1)


def test_zip_with_several_reports(store: Store) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("rfc7489.xml", "qp.xml", "draft.xml"):
            zf.write(DMARC / name, name)
        zf.writestr("tls.json", (DMARC / "tlsrpt.json").read_bytes())
    path = DMARC.parent.parent / "_tmp_several.zip"
    try:
        path.write_bytes(buffer.getvalue())
        result = load_file(store, path)
    finally:
        path.unlink()
    assert result.rows_quarantined == 0
    assert store.counts()["dmarc_reports"] == 3 and store.counts()["tlsrpt_reports"] == 1


def test_mails_that_only_quote_dmarc_are_not_claimed(tmp_path: Path) -> None:
    bounce = tmp_path / "bounce.eml"
    bounce.write_bytes(
        b"From: MAILER-DAEMON@mx.example\nTo: bounce@news.brightmart.example\nSubject: Undelivered Mail Returned to Sender\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\n"
        b"Content-Type: text/plain\n\nmailbox unavailable\n--b\nContent-Type: text/rfc822-headers\n\n"
        b"Authentication-Results: mx.example; dkim=pass; spf=pass; dmarc=pass header.from=brightmart.example\n"
        b"Subject: Your weekly newsletter\n--b--\n")
    complaint = tmp_path / "abuse.eml"
    complaint.write_bytes((DMARC / "failure_arf.eml").read_bytes().replace(b"Feedback-Type: auth-failure", b"Feedback-Type: abuse")
                          .replace(b"Subject: DMARC Failure Report for brightmart.example", b"Subject: Complaint"))
    for path in (bounce, complaint):
        assert not registry.by_name("report-mail").sniff(read_head(path), path)
