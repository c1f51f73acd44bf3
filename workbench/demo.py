"""``workbench demo``: the main job on embedded defaults, step by step.

1. synthesise the world into ``data/raw`` (once per size and day; ``--fresh`` redoes it),
2. load it into the store (a no-op for files already loaded): send logs, then the bounce and
   complaint mail (linked to their sends; suppressions follow),
3. load the DMARC and TLS reports of the big receivers and enrich them (public suffix
   list only: no DNS in the demo),
4. print what is in the store and the headline numbers (and what the feedback mail said),
5. audit the sending domains' authentication offline (the world's zone, ``data/dns``),
6. send today's newsletter to 1,000 contacts through the embedded SMTP sink, let seeded
   recipients open, click and unsubscribe through the tracking app, and load what came back
   (:mod:`workbench.sending.demo`),
7. render the reports (deliverability overview, reputation, DMARC, bounces and complaints,
   authentication audit, segment explorer and experiment, the campaign send) into
   ``reports/<date>/`` and print where to open them.

Between 3 and 4, the audience: the contacts imported, example segments backfilled over the
window, the engagement tiers and the sunset recommendation (:mod:`workbench.audience.demo`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from workbench.config import Settings
from workbench.dmarc import default_window, enrich, policy_readiness
from workbench.store import Store
from workbench.store.loading import load_paths
from workbench.synth import generate
from workbench.synth.feedback import DEMO_TRACE_KEY

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
        shutil.rmtree(raw / "dmarc", ignore_errors=True)
        shutil.rmtree(raw / "mail", ignore_errors=True)
        console.print(f"[bold]1/7[/] synthesising {events:,} events into {raw} …")
        result = generate(raw, events=events, seed=SEED, end=end)
        marker.write_text(json.dumps(wanted))
        console.print(f"    {result.events:,} events, {result.contacts:,} contacts "
                      f"({result.events_per_second / 1e6:.2f} M events/s generated)")
    else:
        console.print(f"[bold]1/7[/] {raw} already holds this world (use --fresh to regenerate)")
    console.print(f"[bold]2/7[/] loading into {settings.db_path} …")
    store = Store(settings)
    # the world signs its trace headers with the demo key: let the loader check them
    os.environ.setdefault("WORKBENCH_TRACE_KEY", DEMO_TRACE_KEY.decode())
    summary = load_paths(store, [raw / "infrastructure.yaml", raw / "sendlogs", raw / "mail"])
    console.print(f"    {summary.rows_loaded:,} rows loaded, "
                  f"{sum(f.status == 'skipped' for f in summary.files)} files already loaded, "
                  f"{summary.rows_quarantined:,} quarantined")
    dmarc_step(store, raw, console)
    console.print("[bold]3b[/] the audience: contacts, segments, engagement tiers")
    from workbench.audience.demo import audience_step

    audience_step(store, raw, console)
    console.print("[bold]4/7[/] the store")
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
    reasons = store.query("SELECT reason, count(*) AS n FROM bounces GROUP BY 1 ORDER BY n DESC, reason")
    kinds = dict(store.query("SELECT feedback_type, count(*) FROM complaints GROUP BY 1").iter_rows())
    suppressed = store.scalar("SELECT count(*) FROM active_suppressions")
    console.print(f"    feedback mail: {reasons['n'].sum():,} bounces ("
                  + ", ".join(f"{r} {n}" for r, n in reasons.iter_rows()) + f"), {kinds.get('abuse', 0):,} complaints, "
                  f"{kinds.get('opt-out', 0):,} unsubscribes; {suppressed:,} addresses suppressed "
                  "(`workbench suppression list`)", highlight=False)
    console.print("[bold]5/7[/] authentication audit of the sending domains (offline, data/dns)")
    from workbench.auth.demo import run_audit_step

    run_audit_step(settings, store, raw, console)
    console.print("[bold]6/7[/] sending today's newsletter to 1,000 contacts through the embedded sink …")
    from workbench.sending.demo import demo_campaign, run_send_step

    run_send_step(settings, store, raw, console, trace_key=DEMO_TRACE_KEY)
    store.close()  # the notebooks run in their own kernels: let them open the file
    console.print("[bold]7/7[/] rendering the reports …")
    pages = render_reports(settings, console, {"08_campaign_send": {"campaign": demo_campaign(), "dry_run": True,
                                                                    "limit": 1000}})
    took = time.perf_counter() - t0
    for page in pages:
        console.print(f"    open {page}")
    console.print(f"done in {took:.0f} s. Explore with `workbench status`, `workbench quarantine`, or open JupyterLab "
                  f"(`.venv/bin/jupyter lab`) on {settings.db_path}.")
    return {"loaded": summary.rows_loaded, "quarantined": summary.rows_quarantined, "seconds": took}


def dmarc_step(store: Store, raw: Path, console: Console) -> None:
    """Load ``raw/dmarc`` (aggregate reports as .eml, .xml.gz, .zip; TLS reports), enrich
    them offline and print the policy readiness of our domains."""
    console.print(f"[bold]3/7[/] loading DMARC and TLS reports from {raw / 'dmarc'} …")
    summary = load_paths(store, [raw / "dmarc"])
    enrich(store)  # organizational domains by the public suffix list; reverse DNS stays off in the demo
    start, end = default_window(store, 30)
    ready = policy_readiness(store, start, end)
    console.print(f"    {summary.rows_loaded:,} report rows loaded, {summary.rows_quarantined:,} quarantined; "
                  f"policy readiness {start} – {end}:")
    console.print(ready.select("header_from", "messages", "pass_rate", "ours_failing", "others_failing", "verdict"))


#: the reports the demo renders, in order (those missing from notebooks/ are skipped)
DEMO_REPORTS = ("01_deliverability_overview", "02_reputation", "03_dmarc", "04_bounces_complaints", "05_auth_audit",
                "06_segment_explorer", "07_segment_experiment", "08_campaign_send")


def render_reports(settings: Settings, console: Console,
                   parameters: dict[str, dict[str, object]] | None = None) -> list[Path]:
    """Run the demo's notebooks into ``settings.reports_dir``; the pages to open.

    Raises
    ------
    ReportError
        A notebook failed (the message names the cell).
    """
    from workbench.reports import run_notebook

    pages = []
    for name in DEMO_REPORTS:
        if not (settings.root / "notebooks" / f"{name}.ipynb").is_file():
            continue
        run = run_notebook(name, (parameters or {}).get(name), settings=settings)
        console.print(f"    {name}: {run.seconds:.0f} s")
        pages.append(Path(settings.reports_dir).resolve() / (run.html or run.ipynb))
    pages.append(Path(settings.reports_dir).resolve() / "index.html")
    return pages
