"""``workbench contacts …`` and ``workbench segment …``: the audience from the shell.

Exit codes: 0 success; 1 an error the message explains (unknown segment, bad rule file,
unreadable store); 2 ``contacts import`` rejected rows (the others were imported).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import polars as pl
import yaml
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from workbench.cli import (
    _emit,
    _parse_pairs,
    _store,
    db_option,
    err,
    handle_errors,
    json_option,
    out,
)

__all__ = ["COMMANDS", "contacts", "segment"]


@click.group()
def contacts() -> None:
    """Contacts: import a CSV / Parquet file (upsert by email), look one up."""


@contacts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="ATTRIBUTE=COLUMN",
              help="Read an attribute from a column of another name (e.g. email=Courriel).")
@click.option("--show", type=int, default=20, show_default=True, help="Rejected rows to list.")
@db_option
@json_option
@click.pass_context
@handle_errors
def import_(ctx: click.Context, file: Path, mapping: tuple[str, ...], show: int, db: Path | None, as_json: bool) -> None:
    """Import contacts from FILE (CSV, .csv.gz, .csv.zst or Parquet).

    Known columns become typed attributes (email, first_name, last_name, age, birth_date,
    gender, country, region, city, postal_code, language, phone, signup_at, signup_source,
    consent_at, lists as "newsletter;promotions"); the others go to the attributes JSON.
    Rows are upserted by normalised email; changes are kept in the history. Rejected rows
    (invalid address, bad value, duplicate) are listed with the reason; exit code 2 then.
    """
    from workbench.audience.directory import import_contacts

    store = _store(ctx, db)
    with Progress(TextColumn("[bold]importing[/] {task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task(file.name[-40:], total=None)
        report = import_contacts(store, file, mapping=_parse_pairs(mapping, "--map") or None,
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))
    if as_json:
        _emit(report.as_dict())
    else:
        if report.status == "skipped":
            out.print(f"{file}: {report.message}; nothing to do")
        table = Table("rows", "created", "changed", "unchanged", "rejected", title=str(file))
        table.add_row(*(f"{v:,}" for v in (report.rows, report.created, report.changed, report.unchanged, report.rejected)))
        out.print(table)
        if report.rejects:
            rejected = Table("where", "why", "row", title=f"rejected rows ({', '.join(f'{k} {v}' for k, v in report.reasons.items())})")
            for r in report.rejects[:show]:
                rejected.add_row(r.position, r.reason, r.excerpt[:60])
            out.print(rejected)
            if len(report.rejects) > show:
                err.print(f"… and {len(report.rejects) - show:,} more: `workbench quarantine --file {file}` or --json")
    if report.status == "failed":
        err.print(f"[bold red]error:[/] {report.message}", highlight=False)
        sys.exit(1)
    sys.exit(2 if report.rejected else 0)


@contacts.command("show")
@click.argument("who")
@db_option
@json_option
@click.pass_context
@handle_errors
def show_contact(ctx: click.Context, who: str, db: Path | None, as_json: bool) -> None:
    """One contact (by id or address): attributes, lists and the history of changes."""
    from workbench.audience.directory import contact, history

    store = _store(ctx, db)
    found = contact(store, who)
    if found is None:
        err.print(f"no contact {who!r}")
        sys.exit(1)
    found["history"] = history(store, found["contact_id"]).to_dicts()
    if as_json:
        _emit(found)
        return
    table = Table("attribute", "value", title=found["contact_id"])
    for key, value in found.items():
        if key not in ("lists", "history") and value is not None:
            table.add_row(key, str(value))
    for item in found["lists"]:
        table.add_row(f"list {item['list_name']}", f"{item['status']} (consent {item['consent_at']}, {item['consent_source']})")
    out.print(table)
    for change in found["history"]:
        out.print(f"{change['changed_at']}  {change['field']}: {change['old_value']!r} → {change['new_value']!r}  ({change['source']})")


@click.group()
def segment() -> None:
    """Segments: rules as data (YAML / JSON), materialised with a timestamp."""


def _definition(rule_file: Path, name: str | None = None) -> Any:
    from workbench.audience.compile import load_definition

    return load_definition(rule_file, name)


@segment.command("create")
@click.argument("name")
@click.argument("rule_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as-of", default=None, metavar="DATE", help="Membership as of this time (default: now).")
@click.option("--backfill-from", default=None, metavar="DATE",
              help="Also materialise every --every days since DATE, so that past sends can be sliced by it.")
@click.option("--every", "every_days", type=int, default=7, show_default=True, help="Days between backfilled runs.")
@db_option
@json_option
@click.pass_context
@handle_errors
def create(ctx: click.Context, name: str, rule_file: Path, as_of: str | None, backfill_from: str | None,
           every_days: int, db: Path | None, as_json: bool) -> None:
    """Save the segment NAME defined in RULE_FILE and materialise it."""
    from workbench.audience import segments

    run = segments.create(_store(ctx, db), _definition(rule_file, name), as_of=as_of, backfill_from=backfill_from,
                          every_days=every_days)
    data = {"segment": name, "as_of": run.as_of, "size": run.size, "joined": run.joined, "left": run.left,
            "seconds": round(run.seconds, 3)}
    if as_json:
        _emit(data)
    else:
        out.print(f"segment {name}: {run.size:,} members as of {run.as_of:%Y-%m-%d %H:%M} "
                  f"(+{run.joined:,} / −{run.left:,}; {run.seconds:.2f} s)")


@segment.command("list")
@db_option
@json_option
@click.pass_context
@handle_errors
def list_(ctx: click.Context, db: Path | None, as_json: bool) -> None:
    """Saved segments with their latest size."""
    from workbench.audience import segments

    frame = segments.list_segments(_store(ctx, db))
    if as_json:
        _emit(frame.to_dicts())
        return
    table = Table("segment", "size", "as of", "runs", "description")
    for r in frame.iter_rows(named=True):
        table.add_row(r["name"], "–" if r["size"] is None else f"{r['size']:,}", str(r["as_of"] or "–"), str(r["runs"]),
                      r["description"] or "")
    out.print(table)


@segment.command("show")
@click.argument("name")
@click.option("--sql", "with_sql", is_flag=True, help="Also print the compiled SQL.")
@db_option
@json_option
@click.pass_context
@handle_errors
def show(ctx: click.Context, name: str, with_sql: bool, db: Path | None, as_json: bool) -> None:
    """A segment's definition, its size over time and (--sql) the SQL it compiles to."""
    from workbench.audience import segments

    store = _store(ctx, db)
    definition = segments.get(store, name)
    history = segments.runs(store, name)
    compiled = segments.compiled(store, definition)
    if as_json:
        _emit({"definition": definition.to_dict(), "runs": history.to_dicts(), "sql": compiled.sql, "params": compiled.params})
        return
    out.print(yaml.safe_dump(definition.to_dict(), sort_keys=False, allow_unicode=True), end="", highlight=False)
    for r in history.tail(10).iter_rows(named=True):
        out.print(f"  as of {r['as_of']}: {r['size']:,} (+{r['joined']:,} / −{r['left']:,})")
    if with_sql:
        out.print(compiled.sql, highlight=False)
        out.print(compiled.params, highlight=False)


@segment.command("size")
@click.argument("rule", metavar="RULE_FILE|NAME")
@click.option("--as-of", default=None, metavar="DATE", help="Size as of this time (default: now).")
@db_option
@json_option
@click.pass_context
@handle_errors
def size(ctx: click.Context, rule: str, as_of: str | None, db: Path | None, as_json: bool) -> None:
    """How many contacts a rule file (or a saved segment) holds, computed now."""
    from workbench.audience import segments

    store = _store(ctx, db)
    target = _definition(Path(rule), "size-check") if Path(rule).is_file() else rule
    n = segments.size(store, target, as_of)
    if as_json:
        _emit({"size": n})
    else:
        click.echo(n)


@segment.command("export")
@click.argument("name")
@click.option("--out", "target", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A .csv or .parquet file (default: CSV on standard output).")
@click.option("--as-of", default=None, metavar="DATE", help="Members as of this time (default: the latest run).")
@db_option
@click.pass_context
@handle_errors
def export(ctx: click.Context, name: str, target: Path | None, as_of: str | None, db: Path | None) -> None:
    """Write a segment's members (id, email, attributes)."""
    from workbench.audience import segments

    store = _store(ctx, db)
    if target is None:
        click.echo(segments.members(store, name, as_of).write_csv(), nl=False)
        return
    n = segments.export(store, name, target, as_of=as_of)
    err.print(f"{n:,} members written to {target}")


@segment.command("refresh")
@click.argument("names", nargs=-1)
@db_option
@json_option
@click.pass_context
@handle_errors
def refresh(ctx: click.Context, names: tuple[str, ...], db: Path | None, as_json: bool) -> None:
    """Materialise saved segments as of now (all of them by default; for a daily cron)."""
    from workbench.audience import segments

    store = _store(ctx, db)
    chosen = list(names) or segments.list_segments(store)["name"].to_list()
    runs = [segments.materialise(store, n) for n in chosen]
    data = [{"segment": r.segment, "size": r.size, "joined": r.joined, "left": r.left, "seconds": round(r.seconds, 3)} for r in runs]
    if as_json:
        _emit(data)
    else:
        for r in data:
            out.print(f"{r['segment']}: {r['size']:,} (+{r['joined']:,} / −{r['left']:,})")


@segment.command("delete")
@click.argument("name")
@db_option
@click.pass_context
@handle_errors
def delete(ctx: click.Context, name: str, db: Path | None) -> None:
    """Forget a segment and its membership history."""
    from workbench.audience import segments

    if not segments.delete(_store(ctx, db), name):
        err.print(f"no segment named {name!r}")
        sys.exit(1)
    out.print(f"deleted {name}")


@segment.command("tiers")
@click.option("--as-of", default=None, metavar="DATE", help="Tiers as of this time (default: now).")
@click.option("--backfill-from", default=None, metavar="DATE", help="Also materialise the tiers every --every days since DATE.")
@click.option("--every", "every_days", type=int, default=7, show_default=True)
@click.option("--no-save", is_flag=True, help="Only count; store nothing.")
@db_option
@json_option
@click.pass_context
@handle_errors
def tiers(ctx: click.Context, as_of: str | None, backfill_from: str | None, every_days: int, no_save: bool, db: Path | None,
          as_json: bool) -> None:
    """Engagement tiers (active 30 / 90 days, at risk, inactive, never engaged, new): sizes
    and what to do; saved as segments tier:<name> for `workbench kpi --by tier`."""
    from workbench.audience import tiers as T

    store = _store(ctx, db)
    frame = (T.tier_sizes(store, as_of) if no_save
             else T.materialise_tiers(store, as_of=as_of, backfill_from=backfill_from, every_days=every_days))
    if as_json:
        _emit(frame.to_dicts())
        return
    table = Table("tier", "contacts", "share", "recommendation")
    for r in frame.iter_rows(named=True):
        table.add_row(r["tier"], f"{r['contacts']:,}", "–" if r["share"] is None else f"{r['share'] * 100:.1f} %", r["recommendation"])
    out.print(table)


@segment.command("sunset")
@click.option("--as-of", default=None, metavar="DATE", help="Judge engagement as of this time (default: now).")
@click.option("--min-deliveries", type=int, default=5, show_default=True,
              help="Never-engaged contacts are sunset after this many deliveries.")
@click.option("--out", "target", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the list as CSV.")
@db_option
@json_option
@click.pass_context
@handle_errors
def sunset(ctx: click.Context, as_of: str | None, min_deliveries: int, target: Path | None, db: Path | None,
           as_json: bool) -> None:
    """Who to stop mailing (inactive, never engaged) and who to re-engage first (at risk)."""
    from workbench.audience.tiers import sunset as candidates

    frame = candidates(_store(ctx, db), as_of, min_deliveries=min_deliveries)
    if target is not None:
        frame.write_csv(target)
    summary = frame.group_by("action", "tier").agg(contacts=pl.len(), delivered_recent=pl.col("delivered_recent").sum()).sort(
        ["action", "tier"], descending=[True, False])
    if as_json:
        _emit({"summary": summary.to_dicts(), "candidates": len(frame), "file": str(target) if target else None})
        return
    table = Table("action", "tier", "contacts", "deliveries in the last 30 days")
    for r in summary.iter_rows(named=True):
        table.add_row(r["action"], r["tier"], f"{r['contacts']:,}", f"{r['delivered_recent']:,}")
    out.print(table)
    if target is None and len(frame):
        err.print("write the list with --out FILE.csv")


@segment.command("compare")
@click.argument("groups", nargs=-1, required=True)
@click.option("--metric", default="human_click_rate", show_default=True, help="A rate of the KPI layer.")
@click.option("--by", default="segment", show_default=True, help="segment, or campaign for A/B variants.")
@click.option("--control", default=None, help="The control group (default: the first).")
@click.option("--where", "where", multiple=True, metavar="DIM=VALUE[,VALUE…]", help="Keep only these values of a dimension.")
@click.option("--from", "start", default=None, metavar="YYYY-MM-DD")
@click.option("--to", "end", default=None, metavar="YYYY-MM-DD")
@click.option("--alpha", type=float, default=0.05, show_default=True)
@click.option("--correction", type=click.Choice(["holm", "bh", "bonferroni", "none"]), default="holm", show_default=True)
@db_option
@json_option
@click.pass_context
@handle_errors
def compare(ctx: click.Context, groups: tuple[str, ...], metric: str, by: str, control: str | None, where: tuple[str, ...],
            start: str | None, end: str | None, alpha: float, correction: str, db: Path | None, as_json: bool) -> None:
    """Compare segments (or campaign variants) on a rate: difference with its interval,
    z-test or Fisher's exact test, corrected p-values, Bayesian probability, and a verdict."""
    from workbench.analytics.segments import experiment

    filters = {k: v.split(",") for k, v in _parse_pairs(where, "--where").items()}
    result = experiment(_store(ctx, db), list(groups), metric, by=by, control=control, where=filters or None,
                        start=start, end=end, alpha=alpha, correction=correction)
    if as_json:
        _emit({"counts": result.counts.to_dicts(), "comparisons": result.comparisons.to_dicts(), "verdict": result.verdict})
        return
    table = Table("group", "successes", "trials", metric, "95 % interval")
    for r in result.counts.iter_rows(named=True):
        table.add_row(r["group"], f"{r['successes']:,}", f"{r['trials']:,}", f"{r['rate'] * 100:.2f} %",
                      f"{r['rate_lo'] * 100:.2f} – {r['rate_hi'] * 100:.2f} %")
    out.print(table)
    for line in result.verdict:
        out.print(line, highlight=False)


#: the command groups, for :mod:`workbench.cli`
COMMANDS: tuple[click.Command, ...] = (contacts, segment)
