"""Importing contacts (a file or a DataFrame) and reading them back: one contact, its
history, the base's composition.

A file goes through the ``contacts`` load format (:mod:`workbench.sources.contacts`): one
transaction, reloading the same bytes is a no-op, rejected rows land in ``quarantine``. A
DataFrame takes the same path in one transaction of its own, its rejects returned.

Examples
--------
>>> report = import_contacts(store, "data/raw/audience/contacts.csv")  # doctest: +SKIP
>>> report.rejected, report.reasons                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from workbench.audience.contacts import Stager, parse_frame
from workbench.errors import InputError, StoreError
from workbench.sources.reader import Reject
from workbench.store import Store, load_sql
from workbench.store.frames import insert_frame

__all__ = ["ImportReport", "contact", "history", "import_contacts", "subscriptions"]


@dataclass
class ImportReport:
    """What an import did: rows read, contacts created and changed, rows rejected and why."""

    source: str
    status: str  # loaded | skipped | failed
    rows: int = 0
    created: int = 0
    changed: int = 0
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)
    message: str | None = None

    @property
    def unchanged(self) -> int:
        return max(0, self.rows - self.created - self.changed - self.rejected)

    @property
    def reasons(self) -> dict[str, int]:
        """Rejected rows per kind of reason (its first word: ``email``, ``age``, ``duplicate``, …)."""
        out: dict[str, int] = {}
        for r in self.rejects:
            key = r.reason.replace(":", " ").split(" ", 1)[0]
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "status": self.status, "rows": self.rows, "created": self.created,
                "changed": self.changed, "unchanged": self.unchanged, "rejected": self.rejected,
                "reasons": self.reasons, "message": self.message,
                "rejects": [{"position": r.position, "reason": r.reason, "excerpt": r.excerpt} for r in self.rejects]}


class _FrameSink:
    """The sink protocol over a writer connection, for imports that are not files."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.rejects: list[Reject] = []
        self.followups: list[str] = []

    def add_rows(self, table: str, frame: pl.DataFrame) -> None:
        insert_frame(self.con, table, frame)

    def query(self, sql: str, params: dict[str, object] | None = None) -> pl.DataFrame:
        relation = self.con.sql(sql, params=params)
        frame: pl.DataFrame = relation.pl() if relation is not None else pl.DataFrame()
        return frame

    def add_rejects(self, rejects: list[Reject]) -> None:
        self.rejects.extend(rejects)

    def after_commit_sql(self, *statements: str) -> None:
        self.followups.extend(statements)

    def progress(self, nbytes: int) -> None:
        return None


def _counts(store: Store, source: str, as_of: datetime | None) -> tuple[int, int]:
    created = store.scalar("SELECT count(*) FROM contacts WHERE first_source = $s AND ($t IS NULL OR created_at = $t)",
                           {"s": source, "t": as_of})
    changed = store.scalar("SELECT count(DISTINCT contact_id) FROM contact_changes c WHERE source = $s "
                           "AND ($t IS NULL OR changed_at = $t)", {"s": source, "t": as_of})
    return int(created or 0), int(changed or 0)


def _import_frame(store: Store, frame: pl.DataFrame, source: str, as_of: datetime,
                  mapping: Mapping[str, str] | None) -> ImportReport:
    with store.writer() as con:
        sink = _FrameSink(con)
        con.execute("BEGIN TRANSACTION")
        try:
            rows, bad = parse_frame(frame, source=source, as_of=as_of, mapping=mapping)
            sink.add_rejects(bad)
            sink.add_rejects(Stager("row").feed(rows, sink))
            con.execute(load_sql("contacts_merge"))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    store.release(force=True)
    created, changed = _counts(store, source, as_of)
    rejects = sorted(sink.rejects, key=lambda r: int(r.position.split()[-1]) if r.position.split()[-1].isdigit() else 0)
    return ImportReport(source, "loaded", len(frame), created, changed, len(rejects), rejects)


def import_contacts(
    store: Store,
    data: str | Path | pl.DataFrame | pd.DataFrame,
    *,
    mapping: Mapping[str, str] | None = None,
    source: str | None = None,
    as_of: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import contacts from a CSV / Parquet file or a DataFrame (upsert by email).

    Parameters
    ----------
    store:
        The store to write.
    data:
        A file path (CSV, .csv.gz, .csv.zst, Parquet) or a polars / pandas DataFrame.
    mapping:
        Attribute name -> column, for columns not named after an attribute
        (``{"email": "Courriel"}``).
    source:
        For a DataFrame: the name recorded with its changes (default ``"dataframe"``).
    as_of:
        For a DataFrame: the time it speaks for (default now). A file speaks for its
        modification time.
    progress:
        Called with ``(bytes_done, bytes_total)`` while a file is read.

    Returns
    -------
    ImportReport
        Counts and every rejected row with its reason.

    Raises
    ------
    InputError
        The file does not exist, or the frame has no email column.
    StoreError
        The store cannot be written.
    """
    if isinstance(data, pd.DataFrame):
        data = pl.from_pandas(data)
    if isinstance(data, pl.DataFrame):
        stamp = (as_of or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None) if (as_of is None or as_of.tzinfo) else as_of
        return _import_frame(store, data, source or "dataframe", stamp, mapping)
    from workbench.sources.sendlogs.base import ParseOptions
    from workbench.store.loading import file_sha256, load_file

    path = Path(data)
    if not path.is_file():
        raise InputError(str(path), None, "no such file")
    total = path.stat().st_size or 1
    done = 0

    def tick(nbytes: int) -> None:
        nonlocal done
        done = min(total, done + nbytes)
        if progress:
            progress(done, total)

    result = load_file(store, path, format="contacts", options=ParseOptions(mapping=dict(mapping or {}) or None), on_bytes=tick)
    store.release(force=True)
    if progress:
        progress(total, total)
    sha = file_sha256(path)
    rejects = [Reject(p or "-", r, e or "", err) for p, r, e, err in store.query(
        "SELECT position, reason, excerpt, error FROM quarantine WHERE content_sha256 = $sha "
        "ORDER BY try_cast(regexp_extract(position, '(\\d+)$', 1) AS BIGINT) NULLS LAST", {"sha": sha}).iter_rows()]
    if result.status == "failed":
        return ImportReport(str(path), "failed", rejected=len(rejects), rejects=rejects, message=result.message)
    if result.status == "skipped":
        return ImportReport(str(path), "skipped", message=result.message)
    created, changed = _counts(store, str(path), None)
    rows = result.rows_loaded + result.rows_quarantined
    return ImportReport(str(path), "loaded", rows, created, changed, result.rows_quarantined, rejects)


def contact(store: Store, who: str) -> dict[str, Any] | None:
    """One contact by id or address (normalised), with its lists; ``None`` if unknown.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    from workbench.audience.emails import check

    normal = check(who).email or who.strip().lower()
    rows = store.query("SELECT * FROM contacts WHERE contact_id = $w OR email = $e OR email_ascii = $e LIMIT 1",
                       {"w": who, "e": normal})
    if rows.is_empty():
        return None
    found: dict[str, Any] = rows.to_dicts()[0]
    found["lists"] = subscriptions(store, found["contact_id"]).to_dicts()
    return found


def subscriptions(store: Store, contact_id: str) -> pl.DataFrame:
    """A contact's lists: status, consent time and source.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    return store.query("SELECT list_name, status, consent_at, consent_source, updated_at FROM contact_subscriptions "
                       "WHERE contact_id = $c ORDER BY list_name", {"c": contact_id})


def history(store: Store, contact_id: str) -> pl.DataFrame:
    """Every recorded change of a contact, oldest first.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    if not isinstance(contact_id, str) or not contact_id:
        raise StoreError("give a contact id")
    return store.query("SELECT changed_at, field, old_value, new_value, source FROM contact_changes "
                       "WHERE contact_id = $c ORDER BY changed_at, field", {"c": contact_id})
