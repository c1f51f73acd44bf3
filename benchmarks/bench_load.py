"""Loading speed and memory: our loaders against DuckDB's own readers, pandas, and
straightforward line-by-line Python parsers, measured in one run.

    python benchmarks/bench_load.py [--events 10000000] [--baseline-sample 1000000] [--workdir DIR]

(a) N canonical events as CSV and as Parquet: `workbench load` (sniffing, keys, dedupe,
    provider and IP attribution, quarantine bookkeeping) vs DuckDB `read_csv` / `read_parquet`
    into a table (the limit) vs pandas `read_csv` + insert. Target: >= 0.7x DuckDB.
(b) N Postfix maillog lines, N SendGrid webhook events, N/5 SES events: our loaders vs a
    straightforward line-by-line Python parser (regex / json.loads, then one insert), the
    baseline measured on its first --baseline-sample records. Target: >= 10x.
Every contender runs in a fresh process; peak memory is its maximum resident set.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
from _common import Result, run, table

CANONICAL = ["ts", "event_type", "message_id", "campaign_id", "contact_id", "recipient", "sending_domain", "sending_ip",
             "ip_pool", "bounce_class", "bounce_reason", "smtp_code", "enhanced_status", "diagnostic", "url", "user_agent", "client_ip"]

OURS = """
from pathlib import Path
from workbench.config import Settings
from workbench.store import Store
from workbench.store.loading import load_paths
db = Path(sys.argv[1]); db.unlink(missing_ok=True); Path(str(db) + ".wal").unlink(missing_ok=True)
store = Store(Settings.load(db_path=db, lock_timeout=600))
store.migrate()
t = time.perf_counter()
summary = load_paths(store, [sys.argv[2]])
seconds = time.perf_counter() - t
assert summary.rows_quarantined == 0, summary.as_dict()
rows = store.scalar("SELECT count(*) FROM events")
if len(sys.argv) > 3:  # logs and JSON: count input lines (records), like the line-by-line baselines
    with open(sys.argv[2], "rb") as f:
        rows = sum(block.count(b"\\n") for block in iter(lambda: f.read(1 << 24), b""))
report(rows, seconds)
"""

DUCKDB_RAW = """
import duckdb
from pathlib import Path
db = Path(sys.argv[1]); db.unlink(missing_ok=True)
con = duckdb.connect(str(db))
t = time.perf_counter()
reader = "read_csv" if sys.argv[2].endswith(".csv") else "read_parquet"
con.execute(f"CREATE TABLE events AS SELECT * FROM {reader}('{sys.argv[2]}')")
con.close()
seconds = time.perf_counter() - t
report(duckdb.connect(str(db)).execute("SELECT count(*) FROM events").fetchone()[0], seconds)
"""

PANDAS = """
import duckdb, pandas as pd
from pathlib import Path
db = Path(sys.argv[1]); db.unlink(missing_ok=True)
t = time.perf_counter()
df = pd.read_csv(sys.argv[2])
con = duckdb.connect(str(db))
con.register("df", df)
con.execute("CREATE TABLE events AS SELECT * FROM df")
con.close()
report(len(df), time.perf_counter() - t)
"""

POSTFIX_BASELINE = """
import re, duckdb, gzip
from pathlib import Path
limit = int(sys.argv[3])
db = Path(sys.argv[1]); db.unlink(missing_ok=True)
head = re.compile(r"^(\\S+) (\\S+) ([^\\[:]+)\\[\\d+\\]: ([0-9A-Za-z]+): (.*)$")
status = re.compile(r"^to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]*), .*?dsn=([0-9.]+), status=(\\w+) \\((.*)\\)$")
t = time.perf_counter()
mids, senders, rows, n = {}, {}, [], 0
with open(sys.argv[2], "rb") as f:
    for raw in f:
        n += 1
        if n > limit:
            break
        m = head.match(raw.decode("utf-8", "replace").rstrip("\\n"))
        if not m:
            continue
        ts, host, prog, qid, rest = m.groups()
        if rest.startswith("message-id="):
            mids[qid] = rest[12:-1]
        elif rest.startswith("from=<"):
            senders[qid] = rest[6:rest.index(">")]
        elif rest.startswith("to=<"):
            s = status.match(rest)
            if s:
                rows.append((ts, s.group(4), mids.get(qid), s.group(1), senders.get(qid), s.group(2), s.group(3), s.group(5)))
con = duckdb.connect(str(db))
con.execute("CREATE TABLE events (ts VARCHAR, status VARCHAR, message_id VARCHAR, recipient VARCHAR, sender VARCHAR, relay VARCHAR, dsn VARCHAR, diagnostic VARCHAR)")
con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows) if len(rows) < 20000 else None
if len(rows) >= 20000:
    import pyarrow as pa
    tbl = pa.table(list(zip(*rows)), names=["ts", "status", "message_id", "recipient", "sender", "relay", "dsn", "diagnostic"])
    con.execute("INSERT INTO events SELECT * FROM tbl")
con.close()
report(min(n, limit), time.perf_counter() - t)
"""

JSON_BASELINE = """
import json, duckdb, pyarrow as pa
from pathlib import Path
limit = int(sys.argv[3]); kind = sys.argv[4]
db = Path(sys.argv[1]); db.unlink(missing_ok=True)
t = time.perf_counter()
rows, n = [], 0
with open(sys.argv[2], "rb") as f:
    for raw in f:
        n += 1
        if n > limit:
            break
        d = json.loads(raw)
        if kind == "sendgrid":
            rows.append((d.get("timestamp"), d.get("event"), d.get("email"), d.get("sg_event_id"), d.get("sg_message_id"),
                         d.get("ip"), d.get("response") or d.get("reason"), d.get("url"), d.get("useragent"), d.get("campaign_id")))
        else:
            mail = d.get("mail", {})
            obj = d.get(d["eventType"][0].lower() + d["eventType"][1:].replace(" ", ""), {}) or {}
            recipients = [r["emailAddress"] if isinstance(r, dict) else r for r in
                          obj.get("bouncedRecipients") or obj.get("recipients") or obj.get("complainedRecipients")
                          or obj.get("delayedRecipients") or mail.get("destination", [])]
            for r in recipients:
                rows.append((obj.get("timestamp") or mail.get("timestamp"), d["eventType"], r, mail.get("messageId"), None, None,
                             obj.get("smtpResponse"), obj.get("link"), obj.get("userAgent"), (mail.get("tags") or {}).get("campaign", [None])[0]))
names = ["ts", "event", "recipient", "id", "message_id", "ip", "diagnostic", "url", "user_agent", "campaign_id"]
tbl = pa.table([pa.array([r[i] for r in rows]) for i in range(len(names))], names=names)
con = duckdb.connect(str(db))
con.execute("CREATE TABLE events AS SELECT * FROM tbl")
con.close()
report(min(n, limit), time.perf_counter() - t)
"""


def _write_lines(path: Path, frame: pl.DataFrame, lines: Callable[[pl.DataFrame], pl.Series], limit: int,
                 messages_per_slice: int = 250_000) -> None:
    written = 0
    top = int(frame["msgno"].max() or 0)
    with path.open("wb") as out:
        for lo in range(0, top + 1, messages_per_slice):
            part = frame.filter(pl.col("msgno").is_between(lo, lo + messages_per_slice - 1))
            if part.is_empty() or written >= limit:
                continue
            chunk = lines(part).head(limit - written)
            pl.DataFrame({"l": chunk}).write_csv(out, include_header=False, quote_style="never")
            written += len(chunk)


def prepare(workdir: Path, n: int) -> dict[str, Path]:
    """Write the input files once per size (kept between runs)."""
    from workbench.synth import World, simulate, writers

    files = {k: workdir / f"{n}-{k}" for k in ("canonical.csv", "canonical.parquet", "maillog", "sendgrid.jsonl", "ses.jsonl")}
    if all(p.exists() for p in files.values()):
        return files
    workdir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    _, _, msgs, events, _ = simulate(n, seed=11, end=date(2026, 11, 26))
    events = events.head(n)
    canonical = events.select(CANONICAL).sort("ts")
    canonical.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")).write_csv(files["canonical.csv"])
    canonical.write_parquet(files["canonical.parquet"], row_group_size=1 << 20)
    ev = events.join(msgs.select("msgno", "remote_ip"), on="msgno").with_columns(sent_at=pl.col("ts").min().over("msgno"))
    world = World()
    aliases = {ip: f"postfix-{i}" for i, ip in enumerate(ev["sending_ip"].unique().to_list())}
    mta = ev.filter(pl.col("event_type").is_in(writers.MTA_EVENTS))
    # the text formats are written a slice of messages at a time: whole messages per slice,
    # and never all of a 10M-event file's strings in memory at once
    _write_lines(files["maillog"], mta, lambda part: writers.postfix_lines(part, aliases), n)
    _write_lines(files["sendgrid.jsonl"], ev, lambda part: writers.sendgrid_lines(part.sort("ts")), n)
    _write_lines(files["ses.jsonl"], ev.head(n // 5), writers.ses_lines, n // 5)
    assert world
    print(f"prepared inputs in {time.perf_counter() - t:.0f} s under {workdir}")
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--baseline-sample", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/workbench-bench-load"))
    ap.add_argument("--clean", action="store_true", help="delete the inputs afterwards")
    args = ap.parse_args()
    files = prepare(args.workdir, args.events)
    db = str(args.workdir / "bench.duckdb")
    sample = str(args.baseline_sample)

    results: dict[str, Result] = {}
    plan = [
        ("duckdb read_csv (limit)", DUCKDB_RAW, [db, str(files["canonical.csv"])]),
        ("workbench load csv", OURS, [db, str(files["canonical.csv"])]),
        ("pandas read_csv + insert", PANDAS, [db, str(files["canonical.csv"])]),
        ("duckdb read_parquet (limit)", DUCKDB_RAW, [db, str(files["canonical.parquet"])]),
        ("workbench load parquet", OURS, [db, str(files["canonical.parquet"])]),
        ("postfix line-by-line python", POSTFIX_BASELINE, [db, str(files["maillog"]), sample]),
        ("workbench load postfix", OURS, [db, str(files["maillog"]), "lines"]),
        ("sendgrid line-by-line python", JSON_BASELINE, [db, str(files["sendgrid.jsonl"]), sample, "sendgrid"]),
        ("workbench load sendgrid", OURS, [db, str(files["sendgrid.jsonl"]), "lines"]),
        ("ses line-by-line python", JSON_BASELINE, [db, str(files["ses.jsonl"]), str(args.baseline_sample // 5), "ses"]),
        ("workbench load ses", OURS, [db, str(files["ses.jsonl"]), "lines"]),
    ]
    for name, code, argv in plan:
        results[name] = run(name, code, *argv)
        r = results[name]
        print(f"  {name:32s} {r.rows:>11,} rows {r.seconds:8.1f} s {r.rate / 1e6:6.2f} M rows/s  peak {r.peak_mib:7.0f} MiB", flush=True)

    def ratio(ours: str, other: str) -> str:
        return f"{results[ours].rate / results[other].rate:.2f}x"

    lines = {
        "postfix": "workbench load postfix", "sendgrid": "workbench load sendgrid", "ses": "workbench load ses",
    }
    rows = []  # our loaders of logs and JSON count input lines (records), like the baselines
    for name, r in results.items():
        rows.append((name, f"{r.rows:,}", f"{r.seconds:.1f}", f"{r.rate / 1e6:.2f}", f"{r.peak_mib:.0f}"))
    print()
    print(table(rows, ("contender", "rows (lines for logs)", "seconds", "M rows/s", "peak MiB")))
    print()
    print("ratios (rows/s):")
    print(f"  csv:     ours / duckdb read_csv     = {ratio('workbench load csv', 'duckdb read_csv (limit)')}  (target >= 0.7x)")
    print(f"  csv:     ours / pandas              = {ratio('workbench load csv', 'pandas read_csv + insert')}")
    print(f"  parquet: ours / duckdb read_parquet = {ratio('workbench load parquet', 'duckdb read_parquet (limit)')}  (target >= 0.7x)")
    print(f"  postfix: ours / line-by-line        = {ratio(lines['postfix'], 'postfix line-by-line python')}  (target >= 10x; lines/s)")
    print(f"  sendgrid: ours / line-by-line       = {ratio(lines['sendgrid'], 'sendgrid line-by-line python')}  (target >= 10x; input records/s)")
    print(f"  ses:     ours / line-by-line        = {ratio(lines['ses'], 'ses line-by-line python')}  (target >= 10x; input records/s)")
    peak = max(r.peak_mib for n, r in results.items() if n.startswith("workbench"))
    print(f"  peak memory of our loaders: {peak:.0f} MiB (target < 2048 MiB)")
    if args.clean:
        shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
