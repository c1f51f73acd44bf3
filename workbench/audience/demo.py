"""The demo's audience step: import the world's contacts, create the example segments
(``workbench/data/segments/*.yaml``) backfilled weekly over the window, the engagement tiers,
and print the sizes and the sunset recommendation."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path

from rich.console import Console

from workbench.audience import segments
from workbench.audience.compile import load_definition
from workbench.audience.directory import import_contacts
from workbench.audience.tiers import materialise_tiers, sunset
from workbench.store import Store

__all__ = ["EXAMPLES", "audience_step", "example_definitions"]

#: the example segments, in the order they are created (a segment before those naming it)
EXAMPLES = ("paris_25_34", "others", "newsletter_openers")


def example_definitions() -> list[Path]:
    """The packaged example rule files."""
    folder = resources.files("workbench").joinpath("data", "segments")
    return [Path(str(folder.joinpath(f"{name}.yaml"))) for name in EXAMPLES]


def audience_step(store: Store, raw: Path, console: Console, *, last_day: date | None = None) -> dict[str, int]:
    """Import ``raw/audience/contacts.csv`` and create the example segments and tiers.

    Raises
    ------
    StoreError
        The store cannot be written.
    """
    report = import_contacts(store, raw / "audience" / "contacts.csv")
    total = store.scalar("SELECT count(*) FROM contacts")
    console.print(f"    contacts: {total:,} in the store ({report.created:,} new, {report.changed:,} changed, "
                  f"{report.rejected:,} rejected; `workbench contacts import FILE`)", highlight=False)
    last = last_day or store.scalar("SELECT max(ts)::DATE FROM events WHERE event_type = 'injected'") or date.today()
    until = datetime.combine(last + timedelta(days=1), time.min)
    sizes = {}
    for path in example_definitions():
        definition = load_definition(path)
        segments.ensure(store, definition.name, definition.to_dict(), backfill_from=until - timedelta(days=90), end=until)
        sizes[definition.name] = segments.size(store, definition.name, until)
    console.print("    segments (backfilled weekly over 90 days): "
                  + ", ".join(f"{n} {s:,}" for n, s in sizes.items()), highlight=False)
    tiers = materialise_tiers(store, as_of=until)
    console.print("    tiers: " + ", ".join(f"{t} {n:,}" for t, n in tiers.select("tier", "contacts").iter_rows()), highlight=False)
    out = sunset(store, until)
    n_sunset = int((out["action"] == "sunset").sum())
    console.print(f"    sunset: {n_sunset:,} contacts to stop mailing, {len(out) - n_sunset:,} to re-engage "
                  "(`workbench segment sunset --out sunset.csv`)", highlight=False)
    return sizes
