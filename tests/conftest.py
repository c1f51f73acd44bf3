"""Shared fixtures: a fresh store per test, the shared corpus, a small synthetic world."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from workbench.config import Settings
from workbench.store import Store

#: shared fixtures of the sending and tracking tests (send_store, sink, world_resolver)
pytest_plugins = ["tests.sending_helpers"]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: the day the test worlds end (fixed, so that every run draws the same world)
WORLD_END = date(2026, 11, 26)


def shared_corpus() -> Path:
    """``../shared/corpus`` beside the project (or ``$WORKBENCH_SHARED/corpus``)."""
    base = Path(os.environ.get("WORKBENCH_SHARED", ROOT.parent / "shared"))
    return base / "corpus"


def require_corpus(*parts: str) -> Path:
    """The corpus folder, or skip the test with the reason (a user's clone has none)."""
    path = shared_corpus().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"conformance corpus not found at {path} (it lives in ../shared beside the project; set WORKBENCH_SHARED to point elsewhere)")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose paths all live in a temporary folder."""
    return Settings.load(root=ROOT, db_path=tmp_path / "wb.duckdb", data_dir=tmp_path / "data",
                         raw_dir=tmp_path / "data" / "raw", reports_dir=tmp_path / "reports", lock_timeout=60.0)


@pytest.fixture
def store(settings: Settings) -> Store:
    """An empty, migrated store in a temporary file."""
    s = Store(settings)
    s.migrate()
    yield s
    s.close()


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic world (about 60k events) written once per test session."""
    from workbench.synth import generate

    out = tmp_path_factory.mktemp("world")
    generate(out, events=60_000, seed=7, end=WORLD_END)
    return out


@pytest.fixture(scope="session")
def world_store(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The small world loaded into a store (shared by read-only tests: do not write to it)."""
    from workbench.store.loading import load_paths

    path = tmp_path_factory.mktemp("worldstore") / "world.duckdb"
    settings = Settings.load(root=ROOT, db_path=path, lock_timeout=60.0)
    s = Store(settings)
    summary = load_paths(s, [small_world / "infrastructure.yaml", small_world / "sendlogs", small_world / "mail"])
    assert summary.rows_quarantined == 0, summary.as_dict()
    return s


@pytest.fixture(scope="session")
def knot_server(tmp_path_factory: pytest.TempPathFactory):
    """Start Knot DNS on 127.0.0.1 serving zone text as the root zone: ``host, port = knot_server(text)``.

    One server per distinct zone text for the whole session (started in ~20 ms, stopped at
    the end). Query it through ``LiveResolver([f"{host}:{port}"])``. See ``tests/knot.py``.
    """
    from tests.knot import KnotServer

    servers: dict[str, KnotServer] = {}
    base = tmp_path_factory.mktemp("knot")

    def start(zone_text: str) -> tuple[str, int]:
        if zone_text not in servers:
            servers[zone_text] = KnotServer(zone_text, base)
        return servers[zone_text].address

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def dmarc_world_store(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The small world's infrastructure and DMARC/TLS reports loaded and enriched offline
    (shared by read-only tests: do not write to it)."""
    from workbench.dmarc import enrich
    from workbench.store.loading import load_paths

    path = tmp_path_factory.mktemp("dmarcstore") / "dmarc.duckdb"
    s = Store(Settings.load(root=ROOT, db_path=path, lock_timeout=60.0))
    summary = load_paths(s, [small_world / "infrastructure.yaml", small_world / "dmarc"])
    assert summary.rows_quarantined == 0, summary.as_dict()
    enrich(s)
    return s


#: the folder date of the reports rendered by `rendered`
REPORT_DAY = date(2026, 11, 27)


@pytest.fixture(scope="session")
def rendered(world_store: Store, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The overview and reputation notebooks run once on the small world (issue 3's reports;
    shared by the report tests and the headless-browser test)."""
    from workbench.reports import run_notebook

    out = tmp_path_factory.mktemp("reports")
    settings = Settings.load(root=ROOT, db_path=world_store.path, reports_dir=out)
    runs = {name: run_notebook(name, {"days": "21"}, settings=settings, day=REPORT_DAY)
            for name in ("01_deliverability_overview", "02_reputation")}
    return {"out": out, "runs": runs}


#: the segments of the planted world: the planted one (25–34 in Île-de-France click the
#: newsletter 1.8× as often), everyone else, and two groups with nothing planted between them
PLANTED_SEGMENTS = {
    "paris_25_34": {"all": [{"attribute": "age", "between": [25, 34]}, {"geo": {"region": "Île-de-France"}}]},
    "others": {"not": {"segment": "paris_25_34"}},
    "website": {"all": [{"attribute": "signup_source", "equals": "website"}, {"not": {"segment": "paris_25_34"}}]},
    "checkout": {"all": [{"attribute": "signup_source", "equals": "checkout"}, {"not": {"segment": "paris_25_34"}}]},
}


@pytest.fixture(scope="session")
def planted_world(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A world of about 2M events (17k contacts, 270 of them planted) straight into a store (no files), its contacts imported
    from CSV and the PLANTED_SEGMENTS backfilled weekly over the 90 days (read-only for tests)."""
    from datetime import timedelta

    from workbench.audience import segments
    from workbench.audience.compile import Definition
    from workbench.audience.directory import import_contacts
    from workbench.synth import simulate, write_contacts
    from workbench.synth.canonical import canonical_events

    base = tmp_path_factory.mktemp("planted")
    s = Store(Settings.load(root=ROOT, db_path=base / "planted.duckdb", lock_timeout=60.0))
    s.migrate()
    contacts, calendar, msgs, evs, start = simulate(2_000_000, seed=11, end=WORLD_END)
    frame = canonical_events(evs, msgs)
    with s.writer() as con:
        con.register("chunk", frame.to_arrow())
        con.execute("INSERT INTO events BY NAME SELECT * FROM chunk")
        con.unregister("chunk")
        con.register("cal", calendar.select("campaign_id", "name", "stream", "sending_domain", "ip_pool", "subject",
                                            "scheduled_at").to_arrow())
        con.execute("INSERT INTO campaigns BY NAME SELECT * FROM cal")
        con.unregister("cal")
    s.release(force=True)
    write_contacts(base / "contacts.csv", contacts)
    assert import_contacts(s, base / "contacts.csv").rejected == 0
    end = start + timedelta(days=90)
    for name, rule in PLANTED_SEGMENTS.items():
        segments.create(s, Definition.from_dict({"name": name, "rule": rule}), as_of=end, backfill_from=start)
    return s
