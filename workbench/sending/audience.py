"""Who a send goes to: a segment name, a frame of contacts, or a contacts file.

The seam is one function, :func:`audience`, returning ``contact_id``, ``email`` and the
contacts' attribute columns (what templates personalise with). A segment name is resolved,
in order, by:

1. a saved segment (:mod:`workbench.audience.segments`), its members evaluated now, with
   their attributes (the free-form ``attributes`` JSON spread into columns);
2. the store's ``contacts`` table (``all``, or a list name / ``list:NAME`` through
   ``contact_subscriptions``), when contacts were imported;
3. a contacts file (CSV or Parquet with ``contact_id``, ``email`` and a ``lists`` column of
   ``;``-separated list names, as the synthetic world writes ``audience/contacts.csv``):
   ``all``, or the contacts on a list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from workbench.errors import ConfigError
from workbench.store import Store

__all__ = ["audience", "normalise"]


def normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """``contact_id`` and ``email`` first (strings, trimmed; email lower-cased), then the rest;
    rows without either, and repeated contact ids, dropped.

    Raises
    ------
    ConfigError
        The frame has no ``contact_id`` or no ``email`` column.
    """
    missing = [c for c in ("contact_id", "email") if c not in frame.columns]
    if missing:
        raise ConfigError(f"the audience needs columns contact_id and email (missing: {', '.join(missing)})")
    frame = frame.with_columns(
        contact_id=pl.col("contact_id").cast(pl.Utf8).str.strip_chars(),
        email=pl.col("email").cast(pl.Utf8).str.strip_chars().str.to_lowercase(),
    ).filter(pl.col("contact_id").is_not_null() & (pl.col("contact_id") != "") & pl.col("email").str.contains("@"))
    frame = _flatten_attributes(frame)
    rest = [c for c in frame.columns if c not in ("contact_id", "email", "lists")]
    return frame.unique(subset=["contact_id"], keep="first", maintain_order=True).select("contact_id", "email", *rest)


def _flatten_attributes(frame: pl.DataFrame) -> pl.DataFrame:
    """An ``attributes`` JSON column (the audience's free-form attributes) as columns of
    their own, so templates see ``{{ tier }}``; a typed column of the same name wins."""
    if "attributes" not in frame.columns or frame.schema["attributes"] != pl.Utf8:
        return frame
    decoded = []
    for text in frame["attributes"].to_list():
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            value = {}
        decoded.append(value if isinstance(value, dict) else {})
    keys = sorted({k for item in decoded for k in item} - set(frame.columns))
    extra = pl.DataFrame([{k: item.get(k) for k in keys} for item in decoded], infer_schema_length=None) if keys else None
    frame = frame.drop("attributes")
    return frame.hstack(extra) if extra is not None else frame


def _list_name(segment: str) -> str | None:
    if segment in ("all", "*"):
        return None
    return segment.removeprefix("list:")


def _from_segments(store: Store, segment: str) -> pl.DataFrame | None:
    if segment.startswith("list:") or segment in ("all", "*"):
        return None
    from workbench.audience import segments

    try:
        definition = segments.get(store, segment)
    except ConfigError:
        return None  # not a saved segment: a list name, resolved by the store or the file
    # evaluated now: who is in the segment when the campaign is planned (not its last refresh)
    # (to the microsecond: segments' own default `now` drops them, missing contacts created this second)
    return segments.members(store, definition, as_of=datetime.now(UTC).replace(tzinfo=None))


def _from_contacts_table(store: Store, segment: str) -> pl.DataFrame | None:
    if "contacts" not in store.tables() or not store.scalar("SELECT count(*) FROM contacts"):
        return None  # no audience imported: the contacts file
    name = _list_name(segment)
    if name is None:
        return store.query("SELECT * FROM contacts ORDER BY contact_id")
    lists = store.query("SELECT DISTINCT list_name FROM contact_subscriptions ORDER BY 1")["list_name"].to_list()
    if name not in lists:
        saved = store.query("SELECT name FROM segments ORDER BY name")["name"].to_list()
        raise ConfigError(f"{segment!r} is neither a saved segment ({', '.join(saved) or 'none'}) nor a list of the "
                          f"imported contacts ({', '.join(lists) or 'none'}): `workbench segment list`")
    return store.query(
        "SELECT c.* FROM contacts c JOIN contact_subscriptions s USING (contact_id) "
        "WHERE s.list_name = $l AND s.status = 'subscribed' ORDER BY c.contact_id", {"l": name})


def _from_file(path: Path, segment: str) -> pl.DataFrame:
    if not path.is_file():
        raise ConfigError(f"no contacts for segment {segment!r}: no saved segment, no contacts imported and no file "
                          f"{path} (pass --contacts FILE, or `workbench contacts import`)")
    frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, infer_schema_length=10_000)
    name = _list_name(segment)
    if name is not None:
        if "lists" not in frame.columns:
            raise ConfigError(f"{path} has no lists column to select list {name!r} from")
        frame = frame.filter(pl.col("lists").fill_null("").str.split(";").list.contains(name))
    return frame


def audience(store: Store, segment: str | pl.DataFrame | Sequence[Mapping[str, Any]], *,
             contacts: str | Path | None = None, limit: int | None = None) -> pl.DataFrame:
    """The contacts of ``segment`` (see the module docstring), normalised, at most ``limit``.

    Raises
    ------
    ConfigError
        The segment cannot be resolved, or the contacts lack contact_id / email.
    """
    if isinstance(segment, pl.DataFrame):
        frame = segment
    elif not isinstance(segment, str):
        import pandas as pd

        frame = pl.from_pandas(segment) if isinstance(segment, pd.DataFrame) else pl.DataFrame(list(segment))
    else:
        found = _from_segments(store, segment)
        if found is None:
            found = _from_contacts_table(store, segment)
        if found is None:
            path = Path(contacts) if contacts else store.settings.raw_dir / "audience" / "contacts.csv"
            found = _from_file(path, segment)
        frame = found
    frame = normalise(frame)
    return frame.head(limit) if limit is not None else frame
