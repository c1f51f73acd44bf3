"""Benchmark: per campaign × provider × day KPIs over 10M and 50M events.

Compares, in one run and on the same store:

- ``kpis()``: the workbench call (SQL from ``workbench/sql/kpi_counts.sql``, rates and Wilson
  intervals in Python, a polars frame out);
- raw SQL: the same query written out by hand, run on a plain read-only DuckDB connection
  into Arrow (the limit: what the wrapper costs is the ratio);
- polars (lazy, streaming) and pandas over a Parquet export of the needed columns, computing
  the same per-message fold (fewer counts: 9 of the 20, which favours them);
- ``workbench report run 01_deliverability_overview`` on the 10M store (the CLI, a kernel,
  HTML export).

Stores are built once under ``data/bench/`` (reused on later runs): the synthetic world is
drawn with :func:`workbench.synth.simulate` in chunks of 2.5M events (one seed per chunk,
message and contact ids prefixed by the chunk, so chunks are distinct worlds over the same
90 days), turned into canonical rows (:func:`workbench.synth.canonical.canonical_events`)
and inserted with one ``INSERT … SELECT`` from Arrow through ``Store.writer()``: about
150k events/s on two cores, bounded memory (one chunk at a time). The 50M store starts as a
copy of the 10M one.

Usage: ``python benchmarks/bench_kpis.py [--sizes 10,50] [--no-report] [--no-pandas-above N]`` (pandas is
skipped above 10M events by default: at 50M it needs about 13 GB of RAM).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl

from workbench.analytics import kpis
from workbench.config import Settings
from workbench.store import Store
from workbench.synth import simulate
from workbench.synth.canonical import canonical_events

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "data" / "bench"
END = date(2026, 11, 26)
CHUNK = 2_500_000
START, STOP = datetime(2026, 8, 29), datetime(2026, 11, 27)  # the whole 90-day window

RAW_SQL = """
WITH per_message AS (
    SELECT
        min(ts) FILTER (WHERE event_type IN ('injected', 'deferred', 'delivered', 'bounced', 'dropped')) AS sent_at,
        max(campaign_id) AS campaign_id, max(mailbox_provider) AS mailbox_provider,
        count(*) FILTER (WHERE event_type = 'injected') AS injected,
        count(*) FILTER (WHERE event_type = 'delivered') AS delivered,
        count(*) FILTER (WHERE event_type = 'dropped') AS dropped,
        count(*) FILTER (WHERE event_type = 'bounced') AS bounced,
        count(*) FILTER (WHERE event_type = 'bounced' AND bounce_class = 'hard') AS hard_bounced,
        count(*) FILTER (WHERE event_type = 'bounced' AND bounce_class = 'soft') AS soft_bounced,
        count(*) FILTER (WHERE event_type = 'bounced' AND bounce_class = 'block') AS block_bounced,
        count(*) FILTER (WHERE event_type = 'deferred') AS deferrals,
        count(*) FILTER (WHERE event_type = 'opened') AS opens,
        count(*) FILTER (WHERE event_type = 'opened' AND NOT coalesce(is_machine, false)) AS human_opens,
        count(*) FILTER (WHERE event_type = 'clicked') AS clicks,
        count(*) FILTER (WHERE event_type = 'clicked' AND NOT coalesce(is_machine, false)) AS human_clicks,
        count(*) FILTER (WHERE event_type = 'complained') AS complaints,
        count(*) FILTER (WHERE event_type = 'unsubscribed') AS unsubscribes
    FROM events
    WHERE ts >= $scan_from AND ts < $scan_to
    GROUP BY message_id, CASE WHEN message_id IS NULL THEN source_key END
)
SELECT m.campaign_id AS campaign, m.mailbox_provider AS provider, CAST(date_trunc('day', m.sent_at) AS DATE) AS day,
    count(*) AS messages, sum(m.injected) AS sent, sum(m.delivered) AS delivered, sum(m.dropped) AS dropped,
    sum(m.bounced) AS bounced, sum(m.hard_bounced) AS hard_bounced, sum(m.soft_bounced) AS soft_bounced,
    sum(m.block_bounced) AS block_bounced, count(*) FILTER (WHERE m.deferrals > 0) AS deferred,
    sum(m.deferrals) AS deferrals, sum(m.opens) AS opens, count(*) FILTER (WHERE m.opens > 0) AS unique_opens,
    sum(m.human_opens) AS human_opens, count(*) FILTER (WHERE m.human_opens > 0) AS human_unique_opens,
    sum(m.clicks) AS clicks, count(*) FILTER (WHERE m.clicks > 0) AS unique_clicks,
    sum(m.human_clicks) AS human_clicks, count(*) FILTER (WHERE m.human_clicks > 0) AS human_unique_clicks,
    count(*) FILTER (WHERE m.complaints > 0) AS complaints, count(*) FILTER (WHERE m.unsubscribes > 0) AS unsubscribes
FROM per_message AS m
WHERE m.sent_at >= $start AND m.sent_at < $end
GROUP BY 1, 2, 3
"""
MTA = ["injected", "deferred", "delivered", "bounced", "dropped"]
COLUMNS = ["ts", "event_type", "message_id", "campaign_id", "mailbox_provider", "bounce_class", "is_machine"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(store_path: Path, events: int, base: Path | None) -> float:
    """Build (or reuse) a store of about ``events`` events; returns the seconds spent."""
    marker = store_path.with_suffix(".json")
    if store_path.exists() and marker.exists() and json.loads(marker.read_text()).get("events") == events:
        return 0.0
    t0 = time.perf_counter()
    store_path.unlink(missing_ok=True)
    done_chunks = 0
    if base is not None and base.exists():
        shutil.copyfile(base, store_path)
        done_chunks = json.loads(base.with_suffix(".json").read_text())["events"] // CHUNK
    store = Store(Settings.load(root=ROOT, db_path=store_path))
    store.migrate()
    for i in range(done_chunks, events // CHUNK):
        _, _, msgs, evs, _ = simulate(CHUNK, seed=1000 + i, end=END)
        frame = canonical_events(evs, msgs, prefix=f"w{i}-")
        del evs, msgs
        with store.writer() as con:
            con.register("chunk", frame.to_arrow())
            con.execute("INSERT INTO events BY NAME SELECT * FROM chunk")
            con.unregister("chunk")
        store.release(force=True)
        del frame
        gc.collect()
        print(f"  built chunk {i + 1}/{events // CHUNK} ({time.perf_counter() - t0:.0f} s, peak RSS {rss_mb():,.0f} MB)", flush=True)
    store.close()
    marker.write_text(json.dumps({"events": events}))
    return time.perf_counter() - t0


def export_parquet(store_path: Path) -> Path:
    target = store_path.with_suffix(".parquet")
    if not target.exists():
        con = duckdb.connect(str(store_path), read_only=True)
        con.execute(f"COPY (SELECT {', '.join(COLUMNS)} FROM events) TO '{target}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)")
        con.close()
    return target


def run_polars(parquet: Path) -> pl.DataFrame:
    ev = pl.scan_parquet(parquet)
    human = ~pl.col("is_machine").fill_null(False)
    per_message = ev.group_by("message_id").agg(
        sent_at=pl.col("ts").filter(pl.col("event_type").is_in(MTA)).min(),
        campaign=pl.col("campaign_id").max(), provider=pl.col("mailbox_provider").max(),
        sent=(pl.col("event_type") == "injected").sum(), delivered=(pl.col("event_type") == "delivered").sum(),
        bounced=(pl.col("event_type") == "bounced").sum(),
        hard=((pl.col("event_type") == "bounced") & (pl.col("bounce_class") == "hard")).sum(),
        opens=(pl.col("event_type") == "opened").sum(), human_opens=((pl.col("event_type") == "opened") & human).sum(),
        clicks=(pl.col("event_type") == "clicked").sum(), human_clicks=((pl.col("event_type") == "clicked") & human).sum(),
        complaints=(pl.col("event_type") == "complained").sum(),
    )
    return (
        per_message.filter((pl.col("sent_at") >= START) & (pl.col("sent_at") < STOP))
        .group_by("campaign", "provider", day=pl.col("sent_at").dt.date())
        .agg(pl.len().alias("messages"), pl.col("sent", "delivered", "bounced", "hard").sum(),
             unique_opens=(pl.col("opens") > 0).sum(), human_unique_opens=(pl.col("human_opens") > 0).sum(),
             unique_clicks=(pl.col("clicks") > 0).sum(), human_unique_clicks=(pl.col("human_clicks") > 0).sum(),
             complaints=(pl.col("complaints") > 0).sum())
        .collect(engine="streaming")
    )


def run_pandas(parquet: Path) -> pd.DataFrame:
    ev = pd.read_parquet(parquet, columns=COLUMNS)
    et = ev["event_type"]
    human = ~ev["is_machine"].fillna(False).astype(bool)
    flags = pd.DataFrame({
        "message_id": ev["message_id"],
        "mta_ts": ev["ts"].where(et.isin(MTA)),
        "campaign": ev["campaign_id"], "provider": ev["mailbox_provider"],
        "sent": et.eq("injected"), "delivered": et.eq("delivered"), "bounced": et.eq("bounced"),
        "hard": et.eq("bounced") & ev["bounce_class"].eq("hard"),
        "opens": et.eq("opened"), "human_opens": et.eq("opened") & human,
        "clicks": et.eq("clicked"), "human_clicks": et.eq("clicked") & human, "complaints": et.eq("complained"),
    })
    del ev
    per = flags.groupby("message_id", sort=False).agg(
        sent_at=("mta_ts", "min"), campaign=("campaign", "max"), provider=("provider", "max"),
        sent=("sent", "sum"), delivered=("delivered", "sum"), bounced=("bounced", "sum"), hard=("hard", "sum"),
        opens=("opens", "sum"), human_opens=("human_opens", "sum"), clicks=("clicks", "sum"),
        human_clicks=("human_clicks", "sum"), complaints=("complaints", "sum"),
    )
    del flags
    per = per[(per["sent_at"] >= START) & (per["sent_at"] < STOP)]
    per = per.assign(day=per["sent_at"].dt.date, unique_opens=per["opens"] > 0, human_unique_opens=per["human_opens"] > 0,
                     unique_clicks=per["clicks"] > 0, human_unique_clicks=per["human_clicks"] > 0, complaints=per["complaints"] > 0)
    return per.groupby(["campaign", "provider", "day"], sort=False).agg(
        messages=("sent", "size"), sent=("sent", "sum"), delivered=("delivered", "sum"), bounced=("bounced", "sum"),
        hard=("hard", "sum"), unique_opens=("unique_opens", "sum"), human_unique_opens=("human_unique_opens", "sum"),
        unique_clicks=("unique_clicks", "sum"), human_unique_clicks=("human_unique_clicks", "sum"),
        complaints=("complaints", "sum"),
    ).reset_index()


def timed(fn, repeat: int = 2) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50", help="millions of events, comma-separated")
    parser.add_argument("--no-report", action="store_true", help="skip timing `workbench report run`")
    parser.add_argument("--memory-limit", default=None,
                        help="DuckDB memory limit (default: the store's, $WORKBENCH_MEMORY_LIMIT or 2GB; below about 6GB "
                             "the per-message fold of 10M+ events spills to disk and runs ~3x slower)")
    parser.add_argument("--no-pandas-above", type=int, default=10,
                        help="skip pandas above this many millions (at 50M it peaks near 13 GB of RAM)")
    args = parser.parse_args()
    if args.memory_limit:
        os.environ["WORKBENCH_MEMORY_LIMIT"] = args.memory_limit  # read by Settings, here and in the report's kernel
    BENCH.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"bench_kpis: campaign × provider × day KPIs, 2 cores shared with other work (figures are noisy); "
          f"DuckDB {duckdb.__version__} (memory limit {Settings.load(root=ROOT).memory_limit}), "
          f"polars {pl.__version__}, pandas {pd.__version__}")
    previous: Path | None = None
    for millions in sizes:
        path = BENCH / f"kpis-{millions}m.duckdb"
        bench_size(millions, path, previous, args)
        previous = path


def bench_size(millions: int, path: Path, previous: Path | None, args: argparse.Namespace) -> None:
    """Build (or reuse) the store of ``millions`` M events and time every contender on it."""
    took = build(path, millions * 1_000_000, previous)
    store = Store(Settings.load(root=ROOT, db_path=path))
    n = store.scalar("SELECT count(*) FROM events")
    print(f"\n== {n:,} events ({path.name}; built in {took:.0f} s{'' if took else ', reused'}; "
          f"{path.stat().st_size / 1e9:.2f} GB on disk)")
    params = {"start": START, "end": STOP, "scan_from": START - timedelta(days=2), "scan_to": STOP + timedelta(days=7)}

    def raw() -> object:
        con = duckdb.connect(str(path), read_only=True, config={"memory_limit": store.settings.memory_limit})
        try:
            return con.sql(RAW_SQL, params=params).to_arrow_table()
        finally:
            con.close()

    def ours() -> object:
        return kpis(store, by=["campaign", "provider", "day"], start=START, end=STOP)

    # interleaved, best of three each: the machine is shared, so load shifts between runs
    t_raw = t_ours = float("inf")
    table: object = None
    frame: object = None
    for _ in range(3):
        t, table = timed(raw, repeat=1)
        t_raw = min(t_raw, t)
        t, frame = timed(ours, repeat=1)
        t_ours = min(t_ours, t)
    assert isinstance(frame, pl.DataFrame)
    rows = getattr(table, "num_rows", 0)
    assert rows == len(frame), (rows, len(frame))
    print(f"raw DuckDB SQL (the limit) {t_raw:8.2f} s   {rows:,} rows")
    print(f"kpis()                     {t_ours:8.2f} s   ×{t_ours / t_raw:.2f} of raw SQL (target ≤ 1.2)")
    parquet = export_parquet(path)
    t_pl, pl_frame = timed(lambda: run_polars(parquet), repeat=1)
    print(f"polars (streaming)         {t_pl:8.2f} s   ×{t_pl / t_raw:.2f}   {len(pl_frame):,} rows")  # type: ignore[arg-type]
    del pl_frame
    gc.collect()
    if millions <= args.no_pandas_above:
        t_pd, pd_frame = timed(lambda: run_pandas(parquet), repeat=1)
        print(f"pandas                     {t_pd:8.2f} s   ×{t_pd / t_raw:.2f}   {len(pd_frame):,} rows")  # type: ignore[arg-type]
        del pd_frame
        gc.collect()
    else:
        print(f"pandas                     skipped above {args.no_pandas_above}M events (--no-pandas-above)")
    print(f"peak RSS of this process so far: {rss_mb():,.0f} MB")
    if millions == 10 and not args.no_report:
        out = BENCH / "reports"
        env = {**os.environ, "WORKBENCH_DB": str(path)}
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "workbench", "report", "run", "01_deliverability_overview", "--out", str(out)],
                       check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"workbench report run 01_deliverability_overview: {time.perf_counter() - t0:.1f} s (CLI, kernel, HTML)")


if __name__ == "__main__":
    main()
