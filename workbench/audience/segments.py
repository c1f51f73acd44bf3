"""Segments in the store: saved definitions, materialised membership over time, members.

``create`` saves a definition (its rule as JSON and the SQL it compiles to) and
materialises it: the members as of now are recorded as intervals in ``segment_members``
(a contact who joins gets ``valid_from``; one who leaves gets ``valid_to``), and the run in
``segment_runs``. Later KPIs slice each message by the membership of its contact *at the
time it was sent* (the ``segment`` dimension, :mod:`workbench.analytics.segments`).
``backfill`` materialises a segment at regular times in the past (engagement before each
time, suppressions in force then), so that history can be sliced too.

Examples
--------
>>> d = load_definition("segments/paris_25_34.yaml")   # doctest: +SKIP
>>> create(store, d)                                    # doctest: +SKIP
>>> members(store, "paris_25_34").head()                # doctest: +SKIP
"""

from __future__ import annotations

import json
import time as clock
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from workbench.audience.compile import Compiled, Definition, compile_definition
from workbench.errors import ConfigError
from workbench.store import Store

__all__ = ["Run", "backfill", "compiled", "create", "delete", "ensure", "evaluate", "export", "get", "list_segments",
           "materialise", "members", "runs", "save", "size"]

#: the columns of a member (for sends and exports)
MEMBER_COLUMNS = ("contact_id", "email", "first_name", "last_name", "age", "country", "region", "city", "language",
                  "signup_at", "attributes")


@dataclass(frozen=True)
class Run:
    """One materialisation: the segment's size as of a time, who joined and who left."""

    segment: str
    as_of: datetime
    size: int
    joined: int
    left: int
    seconds: float


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _as_time(value: date | datetime | str | None) -> datetime:
    if value is None:
        return _now()
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if ("T" in value or " " in value) else date.fromisoformat(value)
        except ValueError as exc:
            raise ConfigError(f"not a date or time: {value!r}") from exc
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return datetime.combine(value, time.min)


def get(store: Store, name: str) -> Definition:
    """A saved segment's definition.

    Raises
    ------
    ConfigError
        No segment has that name.
    """
    row = store.query("SELECT definition FROM segments WHERE name = $n", {"n": name})
    if row.is_empty():
        known = store.query("SELECT name FROM segments ORDER BY name")["name"].to_list()
        raise ConfigError(f"no segment named {name!r}; saved: {', '.join(known) or 'none yet (workbench segment create)'}")
    return Definition.from_dict(json.loads(row["definition"][0]), name)


def _definition(store: Store, segment: Definition | str) -> Definition:
    return segment if isinstance(segment, Definition) else get(store, segment)


def compiled(store: Store, segment: Definition | str, as_of: date | datetime | str | None = None) -> Compiled:
    """The SQL and parameters of a segment as of a time (``{segment: …}`` rules resolved).

    Raises
    ------
    ConfigError
        An unknown segment, or a rule that cannot be compiled.
    """
    return compile_definition(_definition(store, segment), _as_time(as_of), lambda n: get(store, n))


def evaluate(store: Store, segment: Definition | str, as_of: date | datetime | str | None = None) -> pl.DataFrame:
    """The members as of a time, computed now (nothing is written): ``contact_id``.

    Raises
    ------
    ConfigError
        An unknown segment, or a rule that cannot be compiled.
    StoreError
        The store cannot be read.
    """
    c = compiled(store, segment, as_of)
    return store.query(c.sql, c.params)


def size(store: Store, segment: Definition | str, as_of: date | datetime | str | None = None) -> int:
    """How many contacts the segment holds as of a time (computed now, nothing written).

    Raises
    ------
    ConfigError
        An unknown segment, or a rule that cannot be compiled.
    StoreError
        The store cannot be read.
    """
    c = compiled(store, segment, as_of)
    return int(store.scalar(f"SELECT count(*) FROM ({c.sql})", c.params) or 0)


def save(store: Store, definition: Definition) -> None:
    """Save (or replace) a definition; its membership so far stays as history.

    Raises
    ------
    ConfigError
        The rule cannot be compiled.
    """
    sql = compiled(store, definition).sql
    now = _now()
    store.execute(
        "INSERT INTO segments VALUES ($n, $d, $j, $h, $sql, $now, $now) ON CONFLICT (name) DO UPDATE SET "
        "description = excluded.description, definition = excluded.definition, "
        "definition_sha256 = excluded.definition_sha256, compiled_sql = excluded.compiled_sql, updated_at = excluded.updated_at",
        {"n": definition.name, "d": definition.description, "j": json.dumps(definition.to_dict(), default=str),
         "h": definition.sha256, "sql": sql, "now": now},
    )
    store.release(force=True)


def materialise(store: Store, name: str, as_of: date | datetime | str | None = None, *, rebuild: bool = False) -> Run:
    """Record the saved segment's membership as of a time (default now).

    Runs go forward in time: ``as_of`` must be later than the segment's last run, unless
    ``rebuild`` clears its membership history first.

    Raises
    ------
    ConfigError
        An unknown segment, or ``as_of`` not after its last run.
    StoreError
        The store cannot be written.
    """
    definition = get(store, name)
    stamp = _as_time(as_of)
    started = clock.perf_counter()
    c = compiled(store, definition, stamp)
    with store.writer() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            if rebuild:
                con.execute("DELETE FROM segment_members WHERE segment = $n", {"n": name})
                con.execute("DELETE FROM segment_runs WHERE segment = $n", {"n": name})
            last = con.execute("SELECT max(as_of) FROM segment_runs WHERE segment = $n", {"n": name}).fetchall()[0][0]
            if last is not None and stamp <= last:
                raise ConfigError(f"segment {name!r} was last materialised as of {last}; runs go forward in time "
                                  "(pass a later time, or rebuild)")
            con.execute(f"CREATE OR REPLACE TEMP TABLE segment_now AS {c.sql}", c.params)
            params = {"n": name, "t": stamp}
            left = con.execute(
                "UPDATE segment_members SET valid_to = $t WHERE segment = $n AND valid_to IS NULL "
                "AND contact_id NOT IN (SELECT contact_id FROM segment_now)", params).fetchall()[0][0]
            joined = con.execute(
                "INSERT INTO segment_members SELECT $n, s.contact_id, $t, NULL FROM segment_now s WHERE s.contact_id NOT IN "
                "(SELECT contact_id FROM segment_members WHERE segment = $n AND valid_to IS NULL)", params).fetchall()[0][0]
            total = con.execute("SELECT count(*) FROM segment_now").fetchall()[0][0]
            con.execute("DROP TABLE segment_now")
            seconds = clock.perf_counter() - started
            con.execute("INSERT INTO segment_runs VALUES ($n, $t, $now, $h, $size, $j, $l, $s)",
                        {**params, "now": _now(), "h": definition.sha256, "size": total, "j": joined, "l": left, "s": seconds})
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    store.release(force=True)
    return Run(name, stamp, int(total), int(joined), int(left), seconds)


def backfill(store: Store, name: str, start: date | datetime | str, end: date | datetime | str | None = None,
             *, every_days: int = 7) -> list[Run]:
    """Materialise a saved segment every ``every_days`` from ``start`` to ``end`` (default
    now), replacing its membership history, so that past sends can be sliced by it.

    Raises
    ------
    ConfigError
        An unknown segment, a bad date or a non-positive step.
    StoreError
        The store cannot be written.
    """
    if every_days < 1:
        raise ConfigError("every_days must be at least 1")
    first, last = _as_time(start), _as_time(end)
    if last < first:
        raise ConfigError(f"the backfill ends ({last}) before it starts ({first})")
    stamps = []
    point = first
    while point <= last:
        stamps.append(point)
        point += timedelta(days=every_days)
    if stamps[-1] < last:
        stamps.append(last)  # the last run is the membership as of the end
    return [materialise(store, name, t, rebuild=(i == 0)) for i, t in enumerate(stamps)]


def create(store: Store, definition: Definition, *, as_of: date | datetime | str | None = None,
           backfill_from: date | datetime | str | None = None, every_days: int = 7) -> Run:
    """Save a definition and materialise it as of now (or ``as_of``); with ``backfill_from``,
    also every ``every_days`` since then. Returns the latest run.

    Raises
    ------
    ConfigError
        The rule cannot be compiled, or the dates are wrong.
    StoreError
        The store cannot be written.
    """
    save(store, definition)
    if backfill_from is not None:
        return backfill(store, definition.name, backfill_from, as_of, every_days=every_days)[-1]
    last = store.scalar("SELECT max(as_of) FROM segment_runs WHERE segment = $n", {"n": definition.name})
    stamp = _as_time(as_of)
    return materialise(store, definition.name, stamp, rebuild=last is not None and stamp <= last)


def delete(store: Store, name: str) -> bool:
    """Forget a segment, its runs and membership history; whether it existed.

    Raises
    ------
    StoreError
        The store cannot be written.
    """
    existed = bool(store.scalar("SELECT count(*) FROM segments WHERE name = $n", {"n": name}))
    for table in ("segment_members", "segment_runs"):
        store.execute(f"DELETE FROM {table} WHERE segment = $n", {"n": name})
    store.execute("DELETE FROM segments WHERE name = $n", {"n": name})
    store.release(force=True)
    return existed


def list_segments(store: Store) -> pl.DataFrame:
    """Every saved segment with its latest size, as of when, and how many runs.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    return store.query(
        "SELECT s.name, s.description, r.size, r.as_of, coalesce(r.runs, 0) AS runs, s.updated_at "
        "FROM segments s LEFT JOIN (SELECT segment, arg_max(size, as_of) AS size, max(as_of) AS as_of, count(*) AS runs "
        "FROM segment_runs GROUP BY 1) r ON r.segment = s.name ORDER BY s.name"
    )


def runs(store: Store, name: str) -> pl.DataFrame:
    """A segment's runs: as_of, size, joined, left (its size over time).

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    return store.query("SELECT as_of, size, joined, left_ AS left, seconds FROM segment_runs WHERE segment = $n "
                       "ORDER BY as_of", {"n": name})


def members(store: Store, segment: Definition | str, as_of: date | datetime | str | None = None,
            columns: tuple[str, ...] = MEMBER_COLUMNS) -> pl.DataFrame:
    """The members with their attributes: of a saved segment, its materialised membership at
    ``as_of`` (default: its latest run); of a definition, evaluated now.

    Raises
    ------
    ConfigError
        An unknown segment or column.
    StoreError
        The store cannot be read.
    """
    unknown = [c for c in columns if c not in MEMBER_COLUMNS and c not in ("is_role", "is_disposable", "email_domain")]
    if unknown:
        raise ConfigError(f"unknown member columns {unknown}")
    select = ", ".join(f"c.{c}" for c in columns)
    if isinstance(segment, Definition):
        c = compiled(store, segment, as_of)
        return store.query(f"SELECT {select} FROM contacts c WHERE c.contact_id IN (SELECT contact_id FROM ({c.sql})) "
                           "ORDER BY c.contact_id", c.params)
    get(store, segment)
    stamp = _as_time(as_of) if as_of is not None else store.scalar(
        "SELECT max(as_of) FROM segment_runs WHERE segment = $n", {"n": segment})
    return store.query(
        f"SELECT {select} FROM segment_members m JOIN contacts c ON c.contact_id = m.contact_id "
        "WHERE m.segment = $n AND m.valid_from <= $t AND (m.valid_to IS NULL OR m.valid_to > $t) ORDER BY c.contact_id",
        {"n": segment, "t": stamp})


def export(store: Store, segment: Definition | str, path: str | Path, *, as_of: date | datetime | str | None = None) -> int:
    """Write the members to CSV or Parquet (by the file's suffix); how many.

    Raises
    ------
    ConfigError
        An unknown segment or an unsupported suffix.
    StoreError
        The store cannot be read.
    """
    target = Path(path)
    frame = members(store, segment, as_of)
    if target.suffix == ".parquet":
        frame.write_parquet(target)
    elif target.suffix in (".csv", ""):
        frame.write_csv(target)
    else:
        raise ConfigError(f"export to .csv or .parquet, not {target.suffix}")
    return len(frame)



def ensure(store: Store, name: str, rule: Any = None, *, backfill_from: date | datetime | str | None = None,
           end: date | datetime | str | None = None, every_days: int = 7) -> Definition:
    """A saved segment whose membership covers ``backfill_from`` .. ``end``: with a rule (a
    definition's data form, or a bare rule), saved and materialised again when it is new,
    changed, or its runs do not reach back that far; without one, the saved segment.

    Raises
    ------
    ConfigError
        No rule and no saved segment of that name, or a malformed rule.
    StoreError
        The store cannot be written.
    """
    if not rule:
        return get(store, name)
    definition = rule if isinstance(rule, Definition) else Definition.from_dict(rule, name)
    saved = store.query("SELECT definition_sha256 FROM segments WHERE name = $n", {"n": name})
    first = store.scalar("SELECT min(as_of) FROM segment_runs WHERE segment = $n", {"n": name})
    fresh = not saved.is_empty() and saved["definition_sha256"][0] == definition.sha256 and first is not None
    if fresh and (backfill_from is None or first <= _as_time(backfill_from)):
        return definition
    create(store, definition, as_of=end, backfill_from=backfill_from, every_days=every_days)
    return definition
