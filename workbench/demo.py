"""``workbench demo``: the main job on embedded defaults, step by step.

1. synthesise the world into ``data/raw`` (once per size and day; ``--fresh`` redoes it),
2. load it into the store (a no-op for files already loaded),
3. print what is in the store and the headline numbers,
4. audit the sending domains' authentication offline (the world's zone, ``data/dns``).
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta

from rich.console import Console

from workbench.config import Settings
from workbench.store import Store
from workbench.store.loading import load_paths
from workbench.synth import generate

SEED = 42


def run_demo(settings: Settings, *, events: int = 1_000_000, fresh: bool = False, console: Console | None = None) -> dict[str, object]:
    """Run the demo; returns what it did (also printed)."""
    console = console or Console()
    raw = settings.raw_dir
    end = datetime.now(UTC).date() - timedelta(days=1)
    marker = raw / ".synth.json"
    wanted = {"seed": SEED, "events": events, "end": end.isoformat()}
    if fresh:
        shutil.rmtree(raw, ignore_errors=True)
        for path in (settings.db_path, settings.db_path.with_suffix(settings.db_path.suffix + ".wal")):
            path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    if not marker.exists() or json.loads(marker.read_text()) != wanted:
        shutil.rmtree(raw / "sendlogs", ignore_errors=True)
        console.print(f"[bold]1/4[/] synthesising {events:,} events into {raw} …")
        result = generate(raw, events=events, seed=SEED, end=end)
        marker.write_text(json.dumps(wanted))
        console.print(f"    {result.events:,} events, {result.contacts:,} contacts "
                      f"({result.events_per_second / 1e6:.2f} M events/s generated)")
    else:
        console.print(f"[bold]1/4[/] {raw} already holds this world (use --fresh to regenerate)")
    console.print(f"[bold]2/4[/] loading into {settings.db_path} …")
    store = Store(settings)
    summary = load_paths(store, [raw / "infrastructure.yaml", raw / "sendlogs"])
    console.print(f"    {summary.rows_loaded:,} rows loaded, "
                  f"{sum(f.status == 'skipped' for f in summary.files)} files already loaded, "
                  f"{summary.rows_quarantined:,} quarantined")
    console.print("[bold]3/4[/] the store")
    headline = store.query(
        """
        SELECT mailbox_provider,
               count(*) FILTER (WHERE event_type = 'injected') AS sent,
               count(*) FILTER (WHERE event_type = 'delivered') AS delivered,
               count(*) FILTER (WHERE event_type = 'bounced') AS bounced,
               count(*) FILTER (WHERE event_type = 'complained') AS complaints
        FROM events GROUP BY 1 ORDER BY sent DESC LIMIT 8
        """
    )
    console.print(headline)
    console.print("[bold]4/4[/] authentication audit of the sending domains (offline, data/dns)")
    from workbench.auth.demo import run_audit_step

    run_audit_step(settings, store, raw, console)
    # TODO(issue 3): render notebooks/05_auth_audit.ipynb with the report runner once it lands
    # (parameters: db_path, since_days); tests/test_notebook_05.py runs it with papermill meanwhile.
    took = time.perf_counter() - t0
    console.print(f"done in {took:.0f} s. Explore with `workbench status`, `workbench quarantine`, or open JupyterLab "
                  f"(`.venv/bin/jupyter lab`) on {settings.db_path}.")
    return {"loaded": summary.rows_loaded, "quarantined": summary.rows_quarantined, "seconds": took}
