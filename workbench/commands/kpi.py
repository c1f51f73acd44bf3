"""``workbench kpi`` and ``workbench reputation``: KPIs and reputation from the shell.

Exit codes: 0 success; 1 an error the message explains (unknown dimension, bad date,
unreadable store); 3 (``reputation --fail-on``) a flag of that severity is active.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import polars as pl
from rich.table import Table

from workbench.cli import _emit, _store, db_option, handle_errors, json_option, out

#: columns shown in the terminal table (every column goes to --json and --csv)
SHOWN = ("sent", "delivered", "delivery_rate", "hard_bounce_rate", "deferral_rate", "human_open_rate",
         "human_click_rate", "complaints", "complaint_rate")


def _fmt(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if name.endswith("_rate"):
        return f"{value * 100:.2f} %"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(frame: pl.DataFrame, columns: list[str], title: str | None = None) -> Table:
    table = Table(*columns, title=title)
    for row in frame.select(columns).iter_rows(named=True):
        table.add_row(*(_fmt(c, row[c]) for c in columns))
    return table


def _dimensions_help() -> str:
    from workbench.analytics.dimensions import DIMENSIONS

    return ", ".join(DIMENSIONS)


@click.command()
@click.option("--by", "by", default="", metavar="DIM[,DIM…]", help=f"Slice by: {_dimensions_help()}.")
@click.option("--from", "start", default=None, metavar="YYYY-MM-DD", help="First send day (default: the first with mail).")
@click.option("--to", "end", default=None, metavar="YYYY-MM-DD", help="Last send day, included (default: the last with mail).")
@click.option("--where", "where", multiple=True, metavar="DIM=VALUE[,VALUE…]", help="Keep only these values of a dimension.")
@click.option("--csv", "as_csv", is_flag=True, help="Print every column as CSV.")
@db_option
@json_option
@click.pass_context
@handle_errors
def kpi(ctx: click.Context, by: str, start: str | None, end: str | None, where: tuple[str, ...], as_csv: bool,
        db: Path | None, as_json: bool) -> None:
    """KPIs per slice: counts, rates (with 95 % Wilson intervals in --json/--csv).

    \b
    workbench kpi --by provider,day --from 2026-11-01 --to 2026-11-07
    workbench kpi --by ip --where provider=gmail --json
    """
    from workbench.analytics import kpis

    filters: dict[str, list[str]] = {}
    for item in where:
        name, sep, values = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected DIM=VALUE", param_hint="--where")
        filters[name.strip()] = [v.strip() for v in values.split(",")]
    frame = kpis(_store(ctx, db), by=by or None, start=start, end=end, where=filters or None)
    if as_json:
        _emit(frame.to_dicts())
    elif as_csv:
        click.echo(frame.write_csv(), nl=False)
    else:
        dims = [c for c in frame.columns if c not in set(frame.columns[frame.columns.index("messages"):])]
        out.print(_table(frame, [*dims, *SHOWN]))


@click.command()
@click.option("--level", type=click.Choice(["ip", "subdomain", "domain", "pool"]), default="ip", show_default=True)
@click.option("--from", "start", default=None, metavar="YYYY-MM-DD", help="First day (default: the first with mail).")
@click.option("--to", "end", default=None, metavar="YYYY-MM-DD", help="Last day, included (default: the last with mail).")
@click.option("--fail-on", type=click.Choice(["warning", "critical"]), default=None,
              help="Exit with code 3 when a flag of this severity (or worse) is active on the last day.")
@db_option
@json_option
@click.pass_context
@handle_errors
def reputation(ctx: click.Context, level: str, start: str | None, end: str | None, fail_on: str | None,
               db: Path | None, as_json: bool) -> None:
    """Reputation bands and scores on the last day, and every flag raised.

    Flags: complaint rate ≥ 0.1 % (warning) / ≥ 0.3 % (critical), hard bounces ≥ 2 %,
    deferral spikes of an IP at a provider. For a cron job: --fail-on critical.
    """
    from workbench.analytics import daily_reputation, flags, snapshot

    store = _store(ctx, db)
    snap = snapshot(daily_reputation(store, level, start, end))
    raised = flags(store, levels=(level,), start=start, end=end)
    if as_json:
        _emit({"snapshot": snap.to_dicts(), "flags": raised.to_dicts()})
    else:
        out.print(_table(snap, ["entity", "band", "score", "window_days", "w_delivered", "complaint_rate", "hard_bounce_rate",
                                "block_rate", "deferral_rate", "human_open_rate"], title=f"reputation per {level}"))
        if raised.is_empty():
            out.print("no flag raised")
        else:
            out.print(_table(raised, ["severity", "entity", "provider", "rule", "first_day", "last_day", "days", "peak", "active"],
                             title="flags"))
    severities = {"warning": ("warning", "critical"), "critical": ("critical",)}
    if fail_on and not raised.filter(pl.col("active") & pl.col("severity").is_in(severities[fail_on])).is_empty():
        sys.exit(3)


#: the commands, typed for :mod:`workbench.cli` (which imports this module while it loads)
KPI: click.Command = kpi
REPUTATION: click.Command = reputation
