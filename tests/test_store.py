from __future__ import annotations

import re
from datetime import date, datetime
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl
import pytest

from workbench.config import Settings
from workbench.errors import StoreError
from workbench.sources.events import empty_events
from workbench.store import Store, load_sql, migrations


def test_migrations_apply_once_and_record_their_versions(store: Store) -> None:
    versions = store.migrate()
    assert versions == [m.version for m in migrations.available()]
    assert store.migrate() == versions  # idempotent
    assert {"events", "quarantine", "loaded_files", "campaigns", "sending_domains", "ips", "ip_pools"} <= set(store.tables())


def store_before(version: int, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A store as it was before migration ``version`` (the earlier migrations applied)."""
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
                " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)")
    for m in migrations.available():
        if m.version < version:
            con.execute(m.sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [m.version, m.name])
    return con


def test_dmarc_records_keep_their_rows_when_their_index_is_dropped(tmp_path: Path) -> None:
    con = store_before(12, tmp_path)
    con.execute("INSERT INTO dmarc_reports (report_key, org_name, report_id, schema, record_count, message_count, warnings, content_sha256,"
                " source_file, loaded_at) VALUES ('k', 'google.com', '1', 'rfc7489', 2, 5, 0, 'sha', 'f.xml', now())")
    con.execute("INSERT INTO dmarc_records (report_key, record_no, source_ip, count, dkim) VALUES"
                " ('k', 1, '192.0.2.2', 3, NULL), ('k', 0, '192.0.2.1', 2, [{'domain': 'a.example', 'selector': 's',"
                " 'result': 'pass', 'human_result': NULL}])")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO dmarc_records (report_key, record_no, count) VALUES ('k', 0, 1)")
    assert migrations.migrate(con)[0] == 12
    rows = con.execute("SELECT record_no, source_ip, count, dkim[1].domain FROM dmarc_records").fetchall()
    assert rows == [(0, "192.0.2.1", 2, "a.example"), (1, "192.0.2.2", 3, None)]  # kept, in record order
    assert con.execute("SELECT sum(count) FROM dmarc_flow").fetchone() == (5,)  # the view over it still binds
    constraints = con.execute("SELECT constraint_type, constraint_column_names FROM duckdb_constraints()"
                              " WHERE table_name = 'dmarc_records'").fetchall()
    assert sorted(constraints) == [("NOT NULL", ["count"]), ("NOT NULL", ["record_no"]), ("NOT NULL", ["report_key"])]
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO dmarc_records (report_key, record_no, count) VALUES ('k', 2, NULL)")
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'dmarc_records'").fetchall())
    assert types["dkim"].startswith("STRUCT(") and types["reason_types"] == "VARCHAR[]" and types["count"] == "BIGINT"
    con.close()


def test_reports_stored_without_their_hash_get_their_files_hash(tmp_path: Path) -> None:
    con = store_before(13, tmp_path)
    for key, sha, source, part in [("big", "", "big.xml", None), ("zipped", "", "a.zip", "r.xml"), ("twice", "", "twice.xml", None),
                                   ("unknown", "", "gone.xml", None), ("fine", "s-fine", "fine.xml", None)]:
        con.execute("INSERT INTO dmarc_reports (report_key, org_name, report_id, schema, record_count, message_count, warnings,"
                    " content_sha256, source_file, source_part, loaded_at) VALUES (?, 'o', ?, 'rfc7489', 0, 0, 0, ?, ?, ?, now())",
                    [key, key, sha, source, part])
    for sha, path in [("s-big", "big.xml"), ("s-zip", "a.zip"), ("s-1", "twice.xml"), ("s-2", "twice.xml"), ("s-other", "fine.xml")]:
        con.execute("INSERT INTO loaded_files (content_sha256, path, size_bytes, format, loaded_at, rows_loaded, rows_duplicate,"
                    " rows_quarantined) VALUES (?, ?, 1, 'dmarc', now(), 0, 0, 0)",
                    [sha, path])
    assert migrations.migrate(con)[0] == 13
    hashes = dict(con.execute("SELECT report_key, content_sha256 FROM dmarc_reports").fetchall())
    # the file's hash where the report is the file and the file has one; a zip member, an
    # ambiguous path, an unknown file and an existing hash are left as they were
    assert hashes == {"big": "s-big", "zipped": "", "twice": "", "unknown": "", "fine": "s-fine"}
    con.close()


def test_reading_a_missing_store_says_what_to_do(tmp_path: Path) -> None:
    store = Store(Settings.load(db_path=tmp_path / "none.duckdb"))
    with pytest.raises(StoreError, match="workbench load"):
        store.query("SELECT 1")


def test_every_packaged_query_runs_on_an_empty_store(store: Store) -> None:
    """Catches drift between the .sql files and the schema."""
    names = sorted(p.name[:-4] for p in resources.files("workbench").joinpath("sql").iterdir() if p.name.endswith(".sql"))
    assert names, "no packaged queries"
    params = {"source": "test", "source_file": "f", "lo": None, "hi": None, "seconds": 10, "load_id": 1,
              "domains": None, "min_severity": "info", "since": None,  # auth_*.sql
              "start": date(2026, 1, 1), "end": date(2026, 12, 31), "domain": None, "limit": 5,  # dmarc_*.sql
              "scan_from": date(2025, 12, 30), "scan_to": date(2027, 1, 7),  # kpi_counts.sql
              # feedback analytics and suppression queries
              "by": "provider", "period": "week", "deferred": True, "address": "a@example.com",
              "addresses": ["a@example.com"], "contacts": [""], "list": None,
              "as_of": date(2026, 6, 1), "recent_from": date(2026, 5, 1),  # contact_activity.sql
              "c": "campaign", "now": datetime(2026, 1, 1), "n": 10}  # send_*.sql
    outcomes = pl.DataFrame(schema={"ledger_key": pl.Utf8, "status": pl.Utf8, "smtp_code": pl.Int16, "detail": pl.Utf8,
                                    "next_attempt_at": pl.Datetime("us")})
    with store.writer() as con:
        con.register("batch", empty_events())
        con.register("outcomes", outcomes.to_arrow())  # send_settle.sql
        for name in names:
            sql = load_sql(name)
            used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}  # $domain is not $domains
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(sql, used) if used else con.execute(sql)
            finally:
                con.execute("ROLLBACK")
        con.unregister("batch")
        con.unregister("outcomes")


def test_query_helpers_and_closing_twice(store: Store) -> None:
    assert isinstance(store.query("SELECT 1 AS a"), pl.DataFrame)
    assert store.query_pandas("SELECT 2 AS a")["a"].tolist() == [2]
    assert store.scalar("SELECT count(*) FROM provider_domains WHERE domain = ?", ["gmail.com"]) == 1
    store.close()
    store.close()


def test_provider_list_is_seeded_and_user_rows_survive_a_refresh(store: Store) -> None:
    store.execute("INSERT INTO provider_domains VALUES ('mycorp.example', 'gmail', 'user')")
    store.execute("UPDATE store_meta SET value = 'stale' WHERE key = 'providers_sha256'")
    fresh = Store(store.settings)
    fresh.migrate()
    assert fresh.scalar("SELECT provider FROM provider_domains WHERE domain = 'mycorp.example'") == "gmail"
    assert fresh.scalar("SELECT provider FROM provider_domains WHERE domain = 'hotmail.fr'") == "microsoft"


def test_fingerprint_changes_with_content(store: Store) -> None:
    before = store.fingerprint(["ip_pools"])
    store.execute("INSERT INTO ip_pools VALUES ('p', 'shared', NULL)")
    assert store.fingerprint(["ip_pools"]) != before


def test_a_bad_query_names_itself(store: Store) -> None:
    with pytest.raises(StoreError, match="no_such_table"):
        store.query("SELECT * FROM no_such_table")
