"""The ``workbench`` command line: a few lines per command over package functions.

Exit codes: 0 success; 1 an error the message explains (bad settings, unreadable store,
missing file); 2 a load that quarantined input (everything else loaded), or a usage error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from workbench.config import Settings
from workbench.errors import WorkbenchError

F = TypeVar("F", bound=Callable[..., Any])
def console(*, stderr: bool = False) -> Console:
    """A console for the CLI: terminal width on a terminal, wide tables when piped."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, soft_wrap=True, width=None if stream.isatty() else 200)


err = console(stderr=True)
out = console()


def db_option(func: F) -> F:
    """``--db PATH`` on every command (default: ``$WORKBENCH_DB`` or ``data/workbench.duckdb``)."""
    return click.option(
        "--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="DuckDB file (default: $WORKBENCH_DB or data/workbench.duckdb).",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(func)


def handle_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WorkbenchError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _store(ctx: click.Context, db: Path | None) -> Any:
    from workbench.store import Store

    settings: Settings = ctx.obj["settings"]
    return Store(settings.with_db(db or ctx.obj.get("db")))


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="DuckDB file for every subcommand (default: $WORKBENCH_DB or data/workbench.duckdb).")
@click.version_option(package_name="workbench")
@click.pass_context
def cli(ctx: click.Context, db: Path | None) -> None:
    """The deliverability workbench: load send logs and feedback into DuckDB, measure,
    audit, send and report."""
    ctx.ensure_object(dict)
    ctx.obj["settings"] = Settings.load()
    ctx.obj["db"] = db


@cli.command()
@click.option("--events", "-n", type=int, default=1_000_000, show_default=True, help="Approximate number of events.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Folder to write (default: data/raw).")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--end", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Last day of the window (default: yesterday, UTC).")
@click.option("--days", type=int, default=90, show_default=True)
@json_option
@click.pass_context
@handle_errors
def synth(ctx: click.Context, events: int, out: Path | None, seed: int, end: Any, days: int, as_json: bool) -> None:
    """Generate the synthetic sending world (send logs in real formats, contacts, infrastructure)."""
    from workbench.synth import generate

    target = out or ctx.obj["settings"].raw_dir
    with Progress(TextColumn("writing"), BarColumn(), TextColumn("{task.completed:,} events"), console=err, transient=True) as bar:
        task = bar.add_task("synth", total=events)
        result = generate(target, events=events, seed=seed, end=end.date() if end else None, days=days,
                          progress=lambda n: bar.advance(task, n))
    summary = {
        "out": str(result.out), "contacts": result.contacts, "messages": result.messages, "events": result.events,
        "by_format": result.by_format, "start": result.start, "end": result.end,
        "generate_seconds": round(result.generate_seconds, 2), "write_seconds": round(result.write_seconds, 2),
        "events_per_second": round(result.events_per_second),
    }
    if as_json:
        _emit(summary)
    else:
        out_console = Console()
        out_console.print(f"wrote {result.events:,} events ({result.messages:,} messages, {result.contacts:,} contacts) "
                          f"to {result.out} — generated at {result.events_per_second / 1e6:.2f} M events/s")


def _parse_pairs(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r}: expected NAME=VALUE", param_hint=what)
        key, _, value = pair.partition("=")
        mapping[key.strip()] = value.strip()
    return mapping


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", default=None, help="Force a format (see `workbench formats`); default: sniffed per file.")
@click.option("--map", "mapping", multiple=True, metavar="CANONICAL=COLUMN", help="Generic files: map a canonical column to the file's.")
@click.option("--event-map", "event_map", multiple=True, metavar="VALUE=EVENT_TYPE", help="Generic files: map the file's event values.")
@click.option("--ts-format", default=None, help="Generic files: strftime format of the time column.")
@db_option
@json_option
@click.pass_context
@handle_errors
def load(ctx: click.Context, paths: tuple[Path, ...], fmt: str | None, mapping: tuple[str, ...], event_map: tuple[str, ...],
         ts_format: str | None, db: Path | None, as_json: bool) -> None:
    """Load files and folders (recursively): send logs and every other known format.

    Re-loading the same content changes nothing. Exit code 2 when anything was quarantined
    (the rest loaded); see `workbench quarantine`.
    """
    from workbench.sources import registry
    from workbench.sources.sendlogs.base import ParseOptions
    from workbench.store.loading import load_paths

    if fmt is not None and fmt not in {f.name for f in registry.FORMATS}:
        raise click.BadParameter(f"no format named {fmt!r}; known: {', '.join(f.name for f in registry.FORMATS)}", param_hint="--format")
    options = ParseOptions(mapping=_parse_pairs(mapping, "--map") or None, event_map=_parse_pairs(event_map, "--event-map") or None,
                           ts_format=ts_format)
    store = _store(ctx, db)
    with Progress(TextColumn("[bold]loading[/] {task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task("", total=None)

        def progress(path: str, done: int, total: int) -> None:
            bar.update(task, description=Path(path).name[-40:], completed=done, total=total)

        summary = load_paths(store, paths, format=fmt, options=options, progress=progress)
    data = summary.as_dict()
    if as_json:
        _emit(data)
    else:
        table = Table(show_header=True, header_style="bold")
        for col in ("files loaded", "skipped (already loaded)", "failed", "rows loaded", "duplicates skipped", "quarantined"):
            table.add_column(col, justify="right")
        table.add_row(*(f"{data[k]:,}" for k in ("files_loaded", "files_skipped", "files_failed", "rows_loaded", "rows_duplicate", "rows_quarantined")))
        out.print(table)
        for f in summary.files:
            if f.status == "failed" or f.rows_quarantined:
                err.print(f"[yellow]quarantined[/] {f.path}: {f.message or f'{f.rows_quarantined} record(s)'}", highlight=False)
        if summary.exit_code:
            err.print("see `workbench quarantine` for the reasons; fix or pass --format/--map, then load again")
    sys.exit(summary.exit_code)


@cli.command()
@click.option("--file", "file", default=None, help="Only this file.")
@click.option("--limit", type=int, default=50, show_default=True)
@db_option
@json_option
@click.pass_context
@handle_errors
def quarantine(ctx: click.Context, file: str | None, limit: int, db: Path | None, as_json: bool) -> None:
    """List input that could not be loaded, with the place and the reason."""
    store = _store(ctx, db)
    rows = store.query(
        "SELECT quarantined_at, file, position, error, reason, excerpt FROM quarantine "
        "WHERE $file IS NULL OR file = $file ORDER BY quarantined_at DESC, file, position LIMIT $limit",
        {"file": file, "limit": limit},
    )
    if as_json:
        _emit(rows.to_dicts())
        return
    if rows.is_empty():
        out.print("nothing in quarantine")
        return
    table = Table("file", "position", "error", "reason", "excerpt", show_lines=False)
    for r in rows.iter_rows(named=True):
        table.add_row(r["file"], r["position"] or "", r["error"], r["reason"], (r["excerpt"] or "")[:60])
    out.print(table)


@cli.command()
@json_option
def formats(as_json: bool) -> None:
    """List the formats `workbench load` recognises, in sniffing order."""
    from workbench.sources.registry import FORMATS

    data = [{"name": f.name, "description": f.description} for f in FORMATS]
    if as_json:
        _emit(data)
        return
    table = Table("format", "description")
    for f in data:
        table.add_row(f["name"], f["description"])
    out.print(table)


@cli.command()
@db_option
@json_option
@click.pass_context
@handle_errors
def status(ctx: click.Context, db: Path | None, as_json: bool) -> None:
    """Row counts of the store's tables and what was loaded."""
    store = _store(ctx, db)
    counts = store.counts()
    span = store.query("SELECT min(ts) AS first_event, max(ts) AS last_event FROM events").to_dicts()[0]
    data = {"db": str(store.path), "tables": counts, **span}
    if as_json:
        _emit(data)
        return
    table = Table("table", "rows", title=str(store.path))
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    out.print(table)
    out.print(f"events from {span['first_event']} to {span['last_event']}")


@cli.command()
@click.option("--events", "-n", type=int, default=1_000_000, show_default=True, help="Size of the synthetic world.")
@click.option("--fresh", is_flag=True, help="Regenerate data/raw and rebuild the store from scratch.")
@db_option
@click.pass_context
@handle_errors
def demo(ctx: click.Context, events: int, fresh: bool, db: Path | None) -> None:
    """Run the main job on embedded defaults: synthesise, load, summarise (and what later
    steps add: reports, audits, sends)."""
    from workbench.demo import run_demo

    run_demo(ctx.obj["settings"].with_db(db or ctx.obj.get("db")), events=events, fresh=fresh, console=out)


from workbench.commands import auth as _auth  # noqa: E402
from workbench.commands import feedback as _feedback  # noqa: E402
from workbench.commands.dmarc import dmarc as _dmarc  # noqa: E402 - commands import this module's helpers

for _command in _auth.COMMANDS:  # workbench audit, workbench dns, workbench dkim
    cli.add_command(_command)
cli.add_command(_dmarc)  # type: ignore[has-type]
from workbench.commands import kpi as _kpi  # noqa: E402
from workbench.commands import report as _report  # noqa: E402

cli.add_command(_kpi.KPI)
cli.add_command(_kpi.REPUTATION)
cli.add_command(_report.REPORT)
for _command in _feedback.COMMANDS:  # workbench classify, workbench suppression, workbench mailbox
    cli.add_command(_command)
from workbench.commands import audience as _audience  # noqa: E402

for _command in _audience.COMMANDS:  # workbench contacts, workbench segment
    cli.add_command(_command)
from workbench.commands import send as _send  # noqa: E402
from workbench.commands import track as _track  # noqa: E402

for _command in [*_send.COMMANDS, *_track.COMMANDS]:  # send, send-one, ledger, template, sink; track
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``workbench`` script."""
    cli(obj={})


if __name__ == "__main__":  # pragma: no cover
    main()
