from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sendlogs_helpers import FIXTURES

from workbench.sources import registry
from workbench.store import Store
from workbench.store.loading import load_file, load_paths

INFRA = """kind: workbench/infrastructure
version: 1
pools:
  - {name: dedicated, kind: dedicated}
  - {name: shared, kind: shared}
ips:
  - {ip: 192.0.2.10, pool: dedicated, hostname: mta1.example.com, aliases: [news-1, postfix-ip1]}
  - {ip: 192.0.2.11, pool: dedicated, hostname: mta2.example.com, aliases: [news-2], warmup_start: 2026-10-01}
  - {ip: 198.51.100.21, pool: shared}
domains:
  - {domain: example.com, purpose: corporate}
  - {domain: news.example.com, parent: example.com, purpose: newsletter, stream: newsletter, pool: dedicated}
campaigns:
  - {campaign_id: weekly-48, name: Weekly 48, stream: newsletter, sending_domain: news.example.com}
"""


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    folder = tmp_path / "mixed"
    shutil.copytree(FIXTURES, folder)
    (folder / "notes.txt").write_text("this is not a log\n")
    return folder


def counts(store: Store) -> dict[str, int]:
    return {str(k): int(v) for k, v in store.query("SELECT source, count(*) FROM events GROUP BY 1").iter_rows()}


def test_a_mixed_folder_loads_every_format(store: Store, mixed: Path) -> None:
    summary = load_paths(store, [mixed], options=None)
    formats = {Path(f.path).name: f.format for f in summary.files}
    assert formats["maillog"] == "postfix"
    assert formats["acct.csv"] == "pmta"
    assert formats["log.jsonl"] == "kumomta"
    assert formats["firehose.jsonl"] == formats["sns-notification.json"] == "ses"
    assert formats["webhook.json"] == formats["events.jsonl"] == "sendgrid"
    assert formats["canonical.csv"] == formats["canonical.jsonl"] == "generic"
    assert formats["notes.txt"] is None
    assert formats["mapped.csv"] is None  # needs a mapping
    assert set(counts(store)) == {"postfix", "pmta", "kumomta", "ses", "sendgrid", "generic"}
    assert summary.exit_code == 2


def test_reloading_changes_nothing(store: Store, mixed: Path) -> None:
    load_paths(store, [mixed])
    before = store.fingerprint()
    again = load_paths(store, [mixed])
    assert store.fingerprint() == before
    assert all(f.status in ("skipped", "failed") for f in again.files)
    assert again.rows_loaded == 0


def test_the_same_content_under_another_name_is_skipped(store: Store, tmp_path: Path) -> None:
    a = tmp_path / "a.log"
    shutil.copy(FIXTURES / "postfix" / "maillog-rfc3339.log", a)
    b = tmp_path / "b.log"
    shutil.copy(a, b)
    load_paths(store, [a])
    summary = load_paths(store, [b])
    assert summary.files[0].status == "skipped"


def test_a_grown_log_file_adds_only_its_new_lines(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    lines = (FIXTURES / "postfix" / "maillog-rfc3339.log").read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:3]))
    first = load_paths(store, [log])
    log.write_text("".join(lines))
    second = load_paths(store, [log])
    assert first.rows_loaded == 2  # injected + bounced
    assert second.rows_loaded == 0 and second.rows_duplicate == 2  # the old rows are recognised
    assert store.scalar("SELECT count(*) FROM events") == 2


def test_overlapping_webhook_files_count_each_event_once(store: Store, tmp_path: Path) -> None:
    first = tmp_path / "hook1.json"
    shutil.copy(FIXTURES / "sendgrid" / "webhook.json", first)
    summary = load_paths(store, [first])
    assert summary.rows_duplicate == 1  # the retried delivery inside the file
    second = tmp_path / "hook2.json"
    second.write_text(first.read_text().replace("[", "[\n", 1))  # same events, other bytes
    again = load_paths(store, [second])
    assert again.rows_loaded == 0 and again.rows_duplicate == 5
    assert store.scalar("SELECT count(*) FROM events WHERE event_type = 'delivered'") == 1


def test_bad_records_are_quarantined_with_place_and_reason(store: Store, mixed: Path) -> None:
    load_paths(store, [mixed])
    q = store.query("SELECT file, position, error, reason, excerpt FROM quarantine")
    maillog = q.filter(pl.col("file").str.ends_with("/postfix/maillog"))
    assert set(maillog["position"]) == {"line 19", "line 20"}
    notes = q.filter(pl.col("file").str.ends_with("notes.txt")).row(0, named=True)
    assert notes["error"] == "UnknownFormat" and "--format" in notes["reason"]
    assert notes["excerpt"].startswith("this is not a log")
    mapped = q.filter(pl.col("file").str.ends_with("mapped.csv"))
    assert len(mapped) == 1


def test_a_mapping_loads_a_foreign_csv(store: Store) -> None:
    from workbench.sources.sendlogs.base import ParseOptions

    options = ParseOptions(
        mapping={"ts": "When", "event_type": "Status", "recipient": "Email", "campaign_id": "Campaign"},
        event_map={"sent": "injected", "open": "opened", "click": "clicked"},
        ts_format="%d/%m/%Y %H:%M:%S",
    )
    summary = load_paths(store, [FIXTURES / "generic" / "mapped.csv"], format="generic", options=options)
    assert summary.rows_loaded == 4 and summary.rows_quarantined == 1


def test_infrastructure_fills_ips_and_pools_whatever_the_order(store: Store, tmp_path: Path) -> None:
    load_paths(store, [FIXTURES / "postfix" / "maillog"])
    assert store.scalar("SELECT count(*) FROM events WHERE ip_pool IS NOT NULL") == 0
    infra = tmp_path / "infrastructure.yaml"
    infra.write_text(INFRA)
    load_paths(store, [infra])
    row = store.query("SELECT DISTINCT sending_ip, ip_pool FROM events WHERE mta_instance = 'postfix-ip1'").row(0)
    assert row == ("192.0.2.10", "dedicated")
    assert store.scalar("SELECT kind FROM ip_pools WHERE pool = 'shared'") == "shared"
    # a changed file updates the tables (upsert), it does not duplicate them
    infra.write_text(INFRA.replace("purpose: newsletter", "purpose: weekly newsletter"))
    load_paths(store, [infra])
    assert store.scalar("SELECT purpose FROM sending_domains WHERE domain = 'news.example.com'") == "weekly newsletter"
    assert store.scalar("SELECT count(*) FROM sending_domains") == 2


def test_hosted_domains_get_their_provider_from_the_mx(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(
        "2026-11-27T08:00:00+00:00 m postfix/smtp[1]: AAAAA11111: to=<x@northwind.example>, relay=aspmx.l.google.com[142.250.1.26]:25, dsn=2.0.0, status=sent (250 ok)\n"
    )
    opens = tmp_path / "opens.csv"
    opens.write_text("ts,event_type,recipient\n2026-11-27T09:00:00Z,opened,y@northwind.example\n")
    load_paths(store, [opens])
    assert store.scalar("SELECT mailbox_provider FROM events") == "other"
    load_paths(store, [log])
    assert store.query("SELECT DISTINCT mailbox_provider FROM events")["mailbox_provider"].to_list() == ["gmail"]


def test_scanner_clicks_are_flagged_by_timing(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "events.csv"
    f.write_text(
        "ts,event_type,message_id,recipient,url,user_agent\n"
        "2026-11-27T10:00:00Z,delivered,m1,a@contoso.example,,\n"
        "2026-11-27T10:00:03Z,clicked,m1,a@contoso.example,https://x/1,Mozilla/5.0 (Windows NT 10.0)\n"
        "2026-11-27T10:00:00Z,delivered,m2,b@gmail.com,,\n"
        "2026-11-27T11:30:00Z,clicked,m2,b@gmail.com,https://x/1,Mozilla/5.0 (iPhone)\n"
        "2026-11-27T11:31:00Z,clicked,m3,c@gmail.com,https://x/1,python-requests/2.31\n"
    )
    load_paths(store, [f])
    got = dict(store.query("SELECT message_id, is_machine FROM events WHERE event_type = 'clicked'").iter_rows())
    assert got == {"m1": True, "m2": False, "m3": True}


def test_post_load_steps_interrupted_are_completed_by_the_next_load(store: Store, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.sources import bounce_texts
    from workbench.store.loading import finish_loads

    f = tmp_path / "events.csv"
    f.write_text(
        "ts,event_type,message_id,recipient,url,user_agent\n"
        "2026-11-27T10:00:00Z,delivered,m1,a@contoso.example,,\n"
        "2026-11-27T10:00:03Z,clicked,m1,a@contoso.example,https://x/1,Mozilla/5.0 (Windows NT 10.0)\n"
    )

    def crash(con: object) -> None:
        raise RuntimeError("killed between the file's commit and the post-load steps")

    monkeypatch.setattr(bounce_texts, "refine", crash)
    with pytest.raises(RuntimeError):
        load_paths(store, [f])
    # the file's rows are committed; the post-load steps rolled back as one and stay pending
    assert store.scalar("SELECT count(*) FROM events") == 2
    assert store.scalar("SELECT is_machine FROM events WHERE event_type = 'clicked'") is None
    assert store.scalar("SELECT value FROM store_meta WHERE key = 'load.post_pending'") == "true"
    monkeypatch.undo()
    summary = load_paths(store, [f])  # nothing new to load, yet the pending steps run
    assert [r.status for r in summary.files] == ["skipped"]
    assert store.scalar("SELECT is_machine FROM events WHERE event_type = 'clicked'") is True
    assert store.scalar("SELECT value FROM store_meta WHERE key = 'load.post_pending'") == "false"
    assert finish_loads(store) is False


def test_a_parser_crash_quarantines_the_file_and_the_batch_goes_on(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fmt = registry.by_name("pmta")

    def boom(path: Path, sink: object, options: object) -> None:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(registry, "FORMATS", [registry.Format(fmt.name, fmt.description, fmt.sniff, boom),
                                              *[f for f in registry.FORMATS if f.name != "pmta"]])
    summary = load_paths(store, [FIXTURES / "pmta" / "acct.csv", FIXTURES / "postfix" / "maillog-rfc3339.log"])
    assert [f.status for f in summary.files] == ["failed", "loaded"]
    assert "parser bug" in store.scalar("SELECT reason FROM quarantine")
    assert store.scalar("SELECT count(*) FROM events WHERE source = 'pmta'") == 0


def _sendgrid_line(n: int, event: str = "delivered") -> str:
    return (f'{{"email": "u{n}@gmail.com", "timestamp": {1795773600 + n}, "event": "{event}", "sg_event_id": "ev-{n}", '
            f'"sg_message_id": "m{n}.filter"}}\n')


def test_small_files_load_in_a_group_each_in_its_own_transaction(store: Store, tmp_path: Path) -> None:
    from workbench.store import staging

    folder = tmp_path / "hooks"
    folder.mkdir()
    for day in range(5):
        lines = [_sendgrid_line(day * 10 + i) for i in range(10)]
        if day == 2:
            lines[3] = '{"event": "delivered", "truncated\n'
        if day == 3:
            lines.append(lines[0])  # a retried webhook inside the file
        (folder / f"events-{day}.jsonl").write_text("".join(lines))
    groups = list(staging.groups(sorted(folder.iterdir()), None))
    assert [len(g) for g in groups] == [5] and isinstance(groups[0][0], staging.Member)
    summary = load_paths(store, [folder])
    assert [f.rows_loaded for f in summary.files] == [10, 10, 9, 10, 10]
    assert [f.rows_duplicate for f in summary.files] == [0, 0, 0, 1, 0]
    q = store.query("SELECT file, position, reason FROM quarantine")
    assert q.rows() == [(str(folder / "events-2.jsonl"), "line 4",
                         "not a SendGrid event (malformed JSON, or no event / timestamp)")]
    # every file is its own load: its rows carry its load id
    per_load = store.query("SELECT l.path, count(*) AS n FROM events e JOIN loaded_files l USING (load_id) GROUP BY 1 ORDER BY 1")
    assert per_load["n"].to_list() == [10, 10, 9, 10, 10]
    before = store.fingerprint()
    load_paths(store, [folder])
    assert store.fingerprint() == before


def test_groups_keep_apart_what_must_load_alone(tmp_path: Path) -> None:
    from workbench.store import staging

    shutil.copy(FIXTURES / "sendgrid" / "webhook.json", tmp_path / "a-webhook.json")  # a JSON document
    shutil.copy(FIXTURES / "postfix" / "maillog", tmp_path / "b-maillog")  # records span lines
    (tmp_path / "c1.jsonl").write_text(_sendgrid_line(1))
    (tmp_path / "c2.jsonl").write_text(_sendgrid_line(2))
    (tmp_path / "d.csv").write_text("ts,event_type,recipient\n2026-11-27T09:00:00Z,opened,y@gmail.com\n")
    (tmp_path / "e.csv").write_text("ts,event_type,url\n2026-11-27T09:00:00Z,clicked,https://x\n")  # another header
    shapes = [[Path(getattr(m, "path", m)).name for m in g] for g in staging.groups(sorted(tmp_path.iterdir()), None)]
    assert shapes == [["a-webhook.json"], ["b-maillog"], ["c1.jsonl", "c2.jsonl"], ["d.csv"], ["e.csv"]]


def test_a_record_repeated_in_a_file_and_a_file_overlapping_another_load_once(store: Store, tmp_path: Path) -> None:
    header = "ts,event_type,message_id,recipient\n"
    a = tmp_path / "a.csv"
    a.write_text(header + "2026-11-27T09:00:00Z,delivered,m1,x@gmail.com\n" * 2 + "2026-11-27T09:00:01Z,opened,m1,x@gmail.com\n")
    b = tmp_path / "b.csv"
    b.write_text(header + "2026-11-27T09:00:01Z,opened,m1,x@gmail.com\n2026-11-27T09:05:00Z,clicked,m1,x@gmail.com\n")
    first = load_paths(store, [a])
    assert (first.rows_loaded, first.rows_duplicate) == (2, 1)
    second = load_paths(store, [b])
    assert (second.rows_loaded, second.rows_duplicate) == (1, 1)
    assert store.scalar("SELECT count(*) FROM events") == 3


def test_a_large_file_is_hashed_while_it_loads_and_a_copy_is_still_skipped(store: Store, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.store import loading

    monkeypatch.setattr(loading, "EAGER_HASH", 0)
    a = tmp_path / "a.jsonl"
    a.write_text("".join(_sendgrid_line(i) for i in range(20)))
    load_paths(store, [a])
    before = store.fingerprint()
    b = tmp_path / "b.jsonl"
    shutil.copy(a, b)
    again = load_paths(store, [b])
    assert again.files[0].status == "skipped"
    assert store.fingerprint() == before
    assert store.scalar("SELECT content_sha256 FROM loaded_files") == loading.file_sha256(a)


def test_csv_lines_the_reader_refuses_are_placed_and_the_rest_loads(store: Store, tmp_path: Path) -> None:
    acct = tmp_path / "acct.csv"
    acct.write_bytes(
        b"type,timeLogged,orig,rcpt\n"
        b"d,1795773600,b@news.example.com,a@gmail.com\n"
        b"d,1795773601,b@news.example.com,b@gmail.com,one,too,many\n"
        b"d,1795773602,b@news.example.com,c\xff@gmail.com\n"
        b"d,1795773603,b@news.example.com,d@gmail.com\n"
    )
    summary = load_paths(store, [acct], format="pmta")
    assert summary.rows_loaded == 2
    positions = store.query("SELECT position FROM quarantine ORDER BY position")["position"].to_list()
    assert positions == ["line 3", "line 4"]


def test_a_truncated_compressed_log_keeps_its_whole_lines(store: Store, tmp_path: Path) -> None:
    import gzip

    text = "".join(_sendgrid_line(i) for i in range(3000)).encode()
    data = gzip.compress(text)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    summary = load_paths(store, [path])
    loaded = summary.rows_loaded
    assert 1000 < loaded < 3000
    reasons = store.query("SELECT reason FROM quarantine")["reason"].to_list()
    assert any("compressed stream ends early" in r for r in reasons)
    assert store.scalar("SELECT count(DISTINCT source_key) FROM events") == loaded


def test_files_load_under_the_load_memory_limit_and_queries_get_theirs_back(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    from workbench.config import Settings

    def shown(limit: str) -> str:
        with duckdb.connect(config={"memory_limit": limit}) as con:
            return str(con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0])

    store = Store(Settings.load(db_path=tmp_path / "w.duckdb", memory_limit="3GB", load_memory_limit="1GB"))
    store.migrate()
    fmt = registry.by_name("pmta")
    during: list[str] = []

    def load(path: Path, sink: Any, options: object) -> None:
        during.append(sink.con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0])
        fmt.load(path, sink, options)

    monkeypatch.setattr(registry, "FORMATS", [registry.Format(fmt.name, fmt.description, fmt.sniff, load),
                                              *[f for f in registry.FORMATS if f.name != "pmta"]])
    summary = load_paths(store, [FIXTURES / "pmta" / "acct.csv"])
    assert summary.rows_loaded > 0
    assert during == [shown("1GB")]
    with store.writer() as con:
        assert con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0] == shown("3GB")


def test_every_load_that_adds_rows_leaves_the_post_load_steps_pending(store: Store, tmp_path: Path) -> None:
    def events(name: str, message: str) -> Path:
        f = tmp_path / name
        f.write_text(f"ts,event_type,message_id,recipient\n2026-11-27T10:00:00Z,delivered,{message},a@contoso.example\n")
        return f

    pending = "SELECT value FROM store_meta WHERE key = 'load.post_pending'"
    assert load_file(store, events("a.csv", "m1")).status == "loaded" and store.scalar(pending) == "true"
    assert load_file(store, events("b.csv", "m2")).status == "loaded" and store.scalar(pending) == "true"  # already set: read, kept
    store.execute("UPDATE store_meta SET value = 'false' WHERE key = 'load.post_pending'")  # the steps ran
    assert load_file(store, events("b.csv", "m2")).status == "skipped" and store.scalar(pending) == "false"  # nothing new
    assert load_file(store, events("c.csv", "m3")).status == "loaded" and store.scalar(pending) == "true"  # set again
