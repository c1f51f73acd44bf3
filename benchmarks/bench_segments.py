"""Benchmark: materialising segments over 1M contacts and ~50M events (target: under 2 s each).

The store is the KPI benchmark's 50M-event store (``data/bench/kpis-50m.duckdb``, built by
:func:`bench_kpis.build` and reused when present), copied to ``data/bench/segments-50m.duckdb``
and given 1M contacts: the ~430k contacts its events name (one synthetic world per 2.5M
events, ids prefixed per world) plus never-mailed ones up to a million, with ages, regions,
signup times and lists drawn in SQL from a hash of the id (deterministic), and a campaigns
table. Built once and reused.

Timed, best of three, each a full ``materialise`` (compile, evaluate as of a time, diff
against the open membership, write the intervals and the run, commit):

- an **engagement** segment: human opens in the last 30 days;
- a **compound** segment: 25–34-year-olds in Île-de-France, on the newsletter list, who
  opened a newsletter in the last 30 days and clicked no promotion in the last 90
  (attributes, geography, list membership, two engagement windows, ``not``, suppressions);
- an attribute-only segment and a tier, for scale;

against, measured in the same run, the **floor**: the engagement segment's set written by
hand as one ``SELECT DISTINCT contact_id`` over the same events (no resolution of recipients,
no suppressions, nothing written). Optionally (``--import``) the import of the 1M contacts
from CSV through ``workbench.audience.directory.import_contacts``.

Usage: ``python benchmarks/bench_segments.py [--import] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kpis import BENCH, ROOT, build

from workbench.audience import segments
from workbench.audience.compile import Definition
from workbench.config import Settings
from workbench.store import Store

CONTACTS = 1_000_000
AS_OF = datetime(2026, 11, 27)
REGIONS = ["Île-de-France", "Auvergne-Rhône-Alpes", "Occitanie", "Berlin", "Bavaria", "England", "New York", "Madrid",
           "Lombardy", "Brussels"]

ADD_CONTACTS = """
CREATE OR REPLACE TEMP TABLE ids AS
SELECT contact_id FROM (SELECT DISTINCT contact_id FROM events WHERE contact_id IS NOT NULL)
UNION ALL
SELECT 'z-' || i FROM range($extra) t(i);
INSERT INTO contacts
SELECT contact_id, lower(replace(contact_id, '-', '.')) || '@mail.example', NULL, 'mail.example', false, false,
       NULL, NULL, 18 + (h % 60)::SMALLINT, NULL, NULL,
       CASE WHEN h % 10 < 4 THEN 'FR' ELSE 'DE' END, list_element($regions, 1 + ((h // 7) % 10)::INTEGER), NULL, NULL,
       'fr', NULL, TIMESTAMP '2026-08-29' - INTERVAL 1 DAY * (h % 900), 'website', NULL,
       TIMESTAMP '2026-08-01', TIMESTAMP '2026-08-01', 'bench', 'bench'
FROM (SELECT contact_id, hash(contact_id) AS h FROM ids);
INSERT INTO contact_subscriptions
SELECT contact_id, l, 'subscribed', signup_at, 'website', TIMESTAMP '2026-08-01', 'bench'
FROM contacts, unnest(['newsletter', 'promotions']) t(l)
WHERE (hash(contact_id || l) % 10) < 8;
INSERT INTO campaigns (campaign_id, stream)
SELECT DISTINCT campaign_id, CASE WHEN campaign_id LIKE 'news-%' THEN 'newsletter' WHEN campaign_id LIKE 'promo-%'
    THEN 'promotions' WHEN campaign_id LIKE 'alert-%' THEN 'alerts' ELSE 'transactional' END
FROM events WHERE campaign_id IS NOT NULL
ON CONFLICT DO NOTHING;
"""

SEGMENTS = {
    "engagement": {"engagement": "opened", "within_days": 30},
    "compound": {"all": [{"attribute": "age", "between": [25, 34]}, {"geo": {"region": "Île-de-France"}},
                         {"list": "newsletter"}, {"engagement": "opened", "within_days": 30, "stream": "newsletter"},
                         {"not": {"engagement": "clicked", "within_days": 90, "campaign": "promo-*"}}]},
    "attributes": {"all": [{"attribute": "age", "gte": 40}, {"attribute": "country", "equals": "FR"}]},
    "tier_active_90": {"tier": "active_90"},
}

FLOOR = ("SELECT count(*) FROM (SELECT DISTINCT contact_id FROM events WHERE event_type = 'opened' "
         "AND NOT coalesce(is_machine, false) AND ts >= $lo AND ts < $hi)")


def prepare(path: Path) -> float:
    """The 50M-event store with 1M contacts (built once); the seconds spent."""
    marker = path.with_suffix(".json")
    if path.exists() and marker.exists() and json.loads(marker.read_text()).get("contacts") == CONTACTS:
        return 0.0
    t0 = time.perf_counter()
    base = BENCH / "kpis-50m.duckdb"
    build(BENCH / "kpis-10m.duckdb", 10_000_000, None) if not base.exists() else None
    build(base, 50_000_000, BENCH / "kpis-10m.duckdb")
    shutil.copyfile(base, path)
    store = Store(Settings.load(root=ROOT, db_path=path))
    store.migrate()
    with store.writer() as con:
        known = con.execute("SELECT count(DISTINCT contact_id) FROM events").fetchall()[0][0]
        params = {"extra": CONTACTS - known, "regions": REGIONS}
        for statement in filter(str.strip, ADD_CONTACTS.split(";")):
            used = {k: v for k, v in params.items() if f"${k}" in statement}
            con.execute(statement, used) if used else con.execute(statement)
    store.close()
    marker.write_text(json.dumps({"contacts": CONTACTS}))
    return time.perf_counter() - t0


def best(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--import", dest="do_import", action="store_true", help="also time importing 1M contacts from CSV")
    args = parser.parse_args()
    BENCH.mkdir(parents=True, exist_ok=True)
    path = BENCH / "segments-50m.duckdb"
    took = prepare(path)
    store = Store(Settings.load(root=ROOT, db_path=path))
    n_events = store.scalar("SELECT count(*) FROM events")
    n_contacts = store.scalar("SELECT count(*) FROM contacts")
    print(f"bench_segments: {n_contacts:,} contacts, {n_events:,} events ({path.name}; "
          f"{f'built in {took:.0f} s' if took else 'reused'}); DuckDB {duckdb.__version__}, memory limit "
          f"{store.settings.memory_limit}; 2 cores shared with other work (figures are noisy)")
    lo = AS_OF - timedelta(days=30)

    def floor() -> object:
        con = duckdb.connect(str(path), read_only=True, config={"memory_limit": store.settings.memory_limit})
        try:
            return con.execute(FLOOR, {"lo": lo, "hi": AS_OF}).fetchall()[0][0]
        finally:
            con.close()

    t_floor, n_floor = best(floor, args.repeat)
    print(f"floor: SELECT DISTINCT contact_id of human opens, 30 days   {t_floor:6.2f} s   {n_floor:,} contacts")
    for name, rule in SEGMENTS.items():
        segments.save(store, Definition.from_dict({"name": f"bench-{name}", "rule": rule}))
        t, run = best(lambda n=name: segments.materialise(store, f"bench-{n}", AS_OF, rebuild=True), args.repeat)
        t_next, nxt = best(lambda n=name: segments.materialise(store, f"bench-{n}", datetime.now()), 1)
        verdict = "ok" if t < 2.0 else "OVER the 2 s target"
        ratio = f"×{t / t_floor:.1f} of the floor" if name == "engagement" else ""
        print(f"materialise {name:<12} {t:6.2f} s  ({run.size:,} members; {verdict}) {ratio}".rstrip())  # type: ignore[attr-defined]
        print(f"  next run as of now     {t_next:6.2f} s  (+{nxt.joined:,} / −{nxt.left:,})")  # type: ignore[attr-defined]
    t_size, n = best(lambda: segments.size(store, "bench-compound", AS_OF), args.repeat)
    print(f"size of compound (nothing written)   {t_size:6.2f} s   {n:,}")
    if args.do_import:
        bench_import(store)


def bench_import(store: Store) -> None:
    """Export the 1M contacts to CSV and import them into a fresh store."""
    from workbench.audience.directory import import_contacts

    csv = BENCH / "contacts-1m.csv"
    if not csv.exists():
        store.query("SELECT contact_id, email, age, country, region, signup_at, signup_source FROM contacts").write_csv(csv)
    fresh = BENCH / "import-1m.duckdb"
    fresh.unlink(missing_ok=True)
    target = Store(Settings.load(root=ROOT, db_path=fresh))
    target.migrate()
    t0 = time.perf_counter()
    report = import_contacts(target, csv)
    took = time.perf_counter() - t0
    print(f"import 1M contacts from CSV (validate, normalise, upsert)   {took:6.1f} s   "
          f"{report.created:,} created, {report.rejected:,} rejected ({report.created / took:,.0f} rows/s)")
    target.close()
    fresh.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
