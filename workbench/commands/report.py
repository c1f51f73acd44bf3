"""``workbench report run|list``: execute notebooks into dated reports.

Exit codes: 0 success; 1 an error the message explains (unknown notebook or parameter, a
cell that failed: the message names it and where the partial notebook is).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from workbench.cli import _emit, db_option, err, handle_errors, json_option
from workbench.cli import out as console


@click.group()
def report() -> None:
    """Run notebooks with Papermill into reports/<date>/ (.ipynb and offline .html)."""


@report.command("run")
@click.argument("notebook")
@click.option("-p", "--parameter", "parameters", nargs=2, multiple=True, metavar="NAME VALUE",
              help="A notebook parameter (see `workbench report params NOTEBOOK`).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Reports folder (default: $WORKBENCH_REPORTS or reports/).")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Folder date (default: today, UTC).")
@click.option("--no-html", is_flag=True, help="Skip the HTML export.")
@db_option
@json_option
@click.pass_context
@handle_errors
def run(ctx: click.Context, notebook: str, parameters: tuple[tuple[str, str], ...], out_dir: Path | None, day: Any,
        no_html: bool, db: Path | None, as_json: bool) -> None:
    """Execute NOTEBOOK (a path, or a name in notebooks/ such as `overview`)."""
    from workbench.reports import run_notebook

    settings = ctx.obj["settings"].with_db(db or ctx.obj.get("db"))
    with err.status(f"running {notebook} …"):
        result = run_notebook(notebook, dict(parameters), settings=settings, out=out_dir,
                              day=day.date() if day else None, html=not no_html)
    folder = Path(out_dir or settings.reports_dir).resolve()
    if as_json:
        _emit({**result.as_dict(), "reports": str(folder)})
        return
    target = folder / (result.html or result.ipynb)
    console.print(f"{result.name}: done in {result.seconds:.1f} s → {target}")
    console.print(f"all reports: {folder / 'index.html'}")


@report.command("list")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Reports folder.")
@json_option
@click.pass_context
@handle_errors
def list_(ctx: click.Context, out_dir: Path | None, as_json: bool) -> None:
    """List every report run, newest first."""
    from workbench.reports import list_runs

    folder = Path(out_dir or ctx.obj["settings"].reports_dir)
    runs = list(reversed(list_runs(folder)))
    if as_json:
        _emit(runs)
        return
    if not runs:
        console.print(f"no report has run yet in {folder}: `workbench report run overview`")
        return
    table = Table("started", "notebook", "status", "seconds", "html", title=str(folder))
    for r in runs:
        table.add_row(str(r.get("started")), str(r.get("name")), str(r.get("status")), f"{float(r.get('seconds') or 0):.1f}",
                      str(r.get("html") or r.get("error") or ""))
    console.print(table)


@report.command("params")
@click.argument("notebook")
@json_option
@click.pass_context
@handle_errors
def params(ctx: click.Context, notebook: str, as_json: bool) -> None:
    """Show the parameters NOTEBOOK declares, their types and defaults."""
    from workbench.reports import find_notebook, notebook_parameters

    declared = notebook_parameters(find_notebook(notebook, ctx.obj["settings"]))
    if as_json:
        _emit(declared)
        return
    table = Table("name", "type", "default", "help")
    for name, p in declared.items():
        table.add_row(name, str(p.get("inferred_type_name")), str(p.get("default")), str(p.get("help") or ""))
    console.print(table)


#: the group, typed for :mod:`workbench.cli` (which imports this module while it loads)
REPORT: click.Group = report
