from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
from sendlogs_helpers import FIXTURES

from workbench.sources import sqlparse
from workbench.sources.events import conform, conform_sql
from workbench.sources.sendlogs import postfix, sendgrid
from workbench.sources.sendlogs.base import ParseOptions, general_ts_sql, ts_sql


def test_refused_records_leave_through_the_side_channel_and_skipped_ones_vanish() -> None:
    con = duckdb.connect()
    sink = sqlparse.RejectSink("record")
    sqlparse.reject_function(con, sink)
    rows = con.execute(sqlparse.accepted(
        "SELECT * FROM (VALUES (1, 'ok', NULL, 'a'), (2, 'bad', 'why', 'b'), (NULL, 'bad', 'why not', 'c'),"
        " (4, 'skip', '', 'd')) t(line_no, v, reject, line)"
    )).fetchall()
    assert rows == [("ok",)]
    assert sink.count == 2 and sink.unplaced == 1
    assert [(r.position, r.reason, r.excerpt) for r in sink.rejects] == [("record 2", "why", "b")]
    # the function is registered once per connection; later sinks take over
    other = sqlparse.RejectSink()
    sqlparse.reject_function(con, other)
    con.execute(sqlparse.accepted("SELECT 1 AS v, 7 AS line_no, 'x' AS reject, 'l' AS line")).fetchall()
    assert other.count == 1 and sink.count == 2


def test_conform_derives_domains_codes_and_a_first_bounce_class() -> None:
    frame = pl.DataFrame({
        "ts": ["2026-11-27 10:00:00"], "event_type": ["bounced"], "recipient": [" Jo Doe <Jo@Example.COM.> "],
        "sender": ["bounce@News.Example.com"], "diagnostic": ["smtp; 550 5.1.1 <jo@example.com>: user unknown"],
        "key": ["k"],
    })
    row = conform(frame).row(0, named=True)
    assert row["recipient"] == "jo@example.com."
    assert row["recipient_domain"] == "example.com"
    assert row["sending_domain"] == "news.example.com"
    assert (row["smtp_code"], row["enhanced_status"]) == (550, "5.1.1")
    assert (row["bounce_class"], row["bounce_reason"]) == ("hard", "userunknown")



def test_the_domain_is_what_follows_the_last_at_lower_cased_without_trailing_dots() -> None:
    recipients = ["A@Example.COM", '"a@b"@Mail.Example.org..', "no-at-sign", "trailing@", "dots@...", "x@y@Z.io", None]
    frame = pl.DataFrame({"ts": ["2026-11-27 10:00:00"] * len(recipients), "event_type": ["delivered"] * len(recipients),
                          "recipient": recipients, "sender": recipients, "key": [str(i) for i in range(len(recipients))]})
    expected = ["example.com", "mail.example.org", None, None, None, "z.io", None]
    for clean in (False, True):
        out = conform(frame, clean=clean)
        assert out["recipient_domain"].to_list() == expected
        assert out["sending_domain"].to_list() == expected

def test_a_source_classification_is_kept_and_non_failures_get_none() -> None:
    frame = pl.DataFrame({
        "ts": ["2026-11-27 10:00:00"] * 3, "event_type": ["deferred", "delivered", "dropped"],
        "diagnostic": ["421 4.7.0 try again later", "250 2.0.0 ok", None],
        "bounce_reason": ["mailboxfull", None, None], "key": ["a", "b", "c"],
    })
    out = conform(frame)
    assert out["bounce_reason"].to_list() == ["mailboxfull", None, "undefined"]
    assert out["bounce_class"].to_list() == ["soft", None, "admin"]
    assert out["smtp_code"].to_list() == [421, 250, None]


def test_conform_sql_passes_typed_columns_through_and_adds_the_missing_ones() -> None:
    sql = conform_sql("SELECT TIMESTAMP '2026-11-27 10:00:00' AS ts, 'opened' AS event_type, 'k' AS key",
                      {"ts": "TIMESTAMP", "event_type": "VARCHAR", "key": "VARCHAR"})
    con = duckdb.connect()
    names = [r[0] for r in con.execute(f"DESCRIBE {sql}").fetchall()]
    assert names[:3] == ["ts", "event_type", "message_id"] and names[-4:] == ["key", "reject", "line_no", "line"]
    assert "TRY_CAST(ts" not in sql


def test_one_time_format_per_file_and_the_general_parse_for_the_rest() -> None:
    con = duckdb.connect()
    values = ["2026-11-27T10:00:00.500000Z", "1795773600.5", "2026-11-27 11:00:00+0100", "2026-11-27T10:00:00", "junk"]
    fast = ts_sql("t", values[0])
    assert "try_strptime" in fast and fast != general_ts_sql("t")
    got = [r[0] for r in con.execute(f"SELECT {fast} FROM (SELECT unnest($v) AS t)", {"v": values}).fetchall()]
    assert [str(g) for g in got] == ["2026-11-27 10:00:00.500000", "2026-11-27 10:00:00.500000",
                                     "2026-11-27 10:00:00", "2026-11-27 10:00:00", "None"]


def test_parsers_run_over_frames_with_places_from_the_frame() -> None:
    lines = pl.DataFrame({"line_no": [7, 8], "line": [
        '{"event": "open", "email": "a@b.c", "timestamp": 1764230000, "sg_event_id": "e1"}', '{"event": broken'
    ]})
    result = sqlparse.run(sendgrid, lines, ParseOptions())
    assert result.events["key"].to_list() == ["e1"]
    assert [r.position for r in result.rejects] == ["line 8"]
    refused = sqlparse.run(sendgrid, lines, ParseOptions(), keep_events=False)
    assert refused.events.is_empty() and [r.position for r in refused.rejects] == ["line 8"]


def test_the_exact_pass_places_what_the_fast_one_only_counted(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_bytes((FIXTURES / "postfix" / "maillog").read_bytes())
    head = sqlparse.head_for(postfix)
    rejects = sqlparse.exact_rejects(postfix, log, ParseOptions(), head)
    assert {r.position for r in rejects} == {"line 19", "line 20"}


def test_column_types_are_remembered_per_query_and_header() -> None:
    con = duckdb.connect()
    a = sqlparse.columns_of(con, "SELECT $x::VARCHAR AS a", {"x": 1})
    b = sqlparse.columns_of(con, "SELECT $x::VARCHAR AS a", {"x": 2})
    assert a == b == {"a": "VARCHAR"}
    c = sqlparse.columns_of(con, "SELECT 1 AS a WHERE $wb_columns IS NOT NULL", {"wb_columns": {"z": "VARCHAR"}})
    assert c == {"a": "INTEGER"}
