"""Suppression: who must not be mailed, why, since when, and who lifted it.

Rules (applied by :func:`sync`, which also runs after every ``workbench load``):

- a complaint (ARF / JMRP mail, an MTA's FBL record, SendGrid / SES complaint events)
  suppresses the address globally, at once;
- a hard bounce (``bounce_class = 'hard'``: the mailbox or domain does not exist) suppresses
  the address globally;
- soft bounces suppress after ``soft_count`` in a row (no delivery between them) within
  ``soft_days`` days (:func:`set_policy`; default 3 within 30 days);
- an unsubscribe suppresses the address for the campaign's list (its stream), or globally
  when the list is unknown;
- a person can add one (:func:`add`) or lift one with a reason (:func:`lift`); a lifted
  suppression stays lifted (the same event never suppresses twice), a new event suppresses
  again.

Reads are vectorised: :func:`is_suppressed` answers for a list of addresses in one query.

Examples
--------
>>> flags = is_suppressed(store, ["a@example.com", "b@example.com"], list="newsletter")  # doctest: +SKIP
>>> flags.filter(pl.col("suppressed"))                                                  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import polars as pl

from workbench.errors import ConfigError, StoreError
from workbench.store import Store, load_sql

__all__ = ["DEFAULT_POLICY", "add", "explain", "is_suppressed", "lift", "list_suppressions", "policy",
           "set_policy", "suppressed_addresses", "sync"]

DEFAULT_POLICY = {"soft_count": 3, "soft_days": 30}
REASONS = ("complaint", "hard-bounce", "soft-bounce", "unsubscribe", "manual")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _normal(address: str) -> str:
    return address.strip().strip("<>").lower()


def sync(store: Store) -> int:
    """Create the suppressions the events call for; the number created.

    Raises
    ------
    StoreError
        The store cannot be written.
    """
    before = int(store.scalar("SELECT count(*) FROM suppressions") or 0)
    store.execute(load_sql("suppression_sync"))
    store.release(force=True)
    return int(store.scalar("SELECT count(*) FROM suppressions") or 0) - before


def policy(store: Store) -> dict[str, int]:
    """The soft-bounce policy in force (``soft_count``, ``soft_days``)."""
    rows = store.query("SELECT key, value FROM store_meta WHERE key LIKE 'suppression.%'")
    found = {str(k).split(".", 1)[1]: int(v) for k, v in rows.iter_rows()}
    return {**DEFAULT_POLICY, **{k: v for k, v in found.items() if k in DEFAULT_POLICY}}


def set_policy(store: Store, *, soft_count: int | None = None, soft_days: int | None = None) -> dict[str, int]:
    """Change the soft-bounce policy (applies to the next sync; existing rows stay).

    Raises
    ------
    ConfigError
        A value is not a positive number.
    """
    for name, value in (("soft_count", soft_count), ("soft_days", soft_days)):
        if value is None:
            continue
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, not {value}")
        store.execute("INSERT INTO store_meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                      [f"suppression.{name}", str(value)])
    store.release(force=True)
    return policy(store)


def add(store: Store, address: str, *, by: str, note: str | None = None, scope: str = "global",
        reason: str = "manual", contact_id: str | None = None) -> str:
    """Suppress an address by hand; returns the suppression id.

    Raises
    ------
    ConfigError
        No address, or nobody named in ``by``.
    """
    address = _normal(address)
    if "@" not in address or not by.strip():
        raise ConfigError("give an address and who suppresses it (--by NAME)")
    now = _now()
    ident = hashlib.md5(f"{address}|{contact_id or ''}|{scope}|{reason}|manual|{now.isoformat()}".encode()).hexdigest()
    store.execute(
        "INSERT INTO suppressions (suppression_id, address, contact_id, scope, reason, detail, source, source_key,"
        " event_at, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, 'manual', NULL, ?, ?, ?) ON CONFLICT DO NOTHING",
        [ident, address, contact_id, scope, reason, note, now, now, by.strip()],
    )
    store.release(force=True)
    return ident


def lift(store: Store, address: str, *, by: str, reason: str, scope: str | None = None) -> int:
    """Lift the active suppressions of an address (of one scope, or all); how many.

    Raises
    ------
    ConfigError
        No reason or nobody named: lifting a suppression must say who and why.
    """
    if not reason.strip() or not by.strip():
        raise ConfigError("lifting a suppression needs --by NAME and --reason TEXT")
    address = _normal(address)
    count = int(store.scalar(
        "SELECT count(*) FROM active_suppressions WHERE address = $a AND ($scope IS NULL OR scope = $scope)",
        {"a": address, "scope": scope}) or 0)
    store.execute(
        "UPDATE suppressions SET lifted_at = $now, lifted_by = $by, lift_reason = $why "
        "WHERE address = $a AND lifted_at IS NULL AND ($scope IS NULL OR scope = $scope)",
        {"now": _now(), "by": by.strip(), "why": reason.strip(), "a": address, "scope": scope},
    )
    store.release(force=True)
    return count


def is_suppressed(store: Store, addresses: Iterable[str], list: str | None = None,
                  contact_ids: Sequence[str | None] | None = None) -> pl.DataFrame:
    """For each address (in order): is it suppressed for ``list``?

    A global suppression applies to every list; a list's suppression (an unsubscribe) only
    to that list; with ``list=None`` only global suppressions count (transactional mail).
    ``contact_ids`` (same length) also matches suppressions recorded for a contact.

    Returns
    -------
    polars.DataFrame
        ``address``, ``suppressed`` (bool), ``scope``, ``reason``, ``since``, ``suppression_id``.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    given = [a if isinstance(a, str) else "" for a in addresses]
    contacts = [c or "" for c in (contact_ids or [""] * len(given))]
    if len(contacts) != len(given):
        raise StoreError("contact_ids must have one entry per address")
    if not given:
        return pl.DataFrame(schema={"address": pl.Utf8, "suppressed": pl.Boolean, "scope": pl.Utf8, "reason": pl.Utf8,
                                    "since": pl.Datetime("us"), "suppression_id": pl.Utf8})
    return store.sql("is_suppressed", {"addresses": given, "contacts": contacts, "list": list})


def suppressed_addresses(store: Store, list: str | None = None) -> pl.DataFrame:
    """Every suppressed address for ``list`` (global ones, and the list's own).

    Returns
    -------
    polars.DataFrame
        ``address``, ``contact_id``, ``scope``, ``reason``, ``since`` (one row per address).

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    return store.query(
        "SELECT address, any_value(contact_id) AS contact_id, arg_min(scope, created_at) AS scope, "
        "arg_min(reason, created_at) AS reason, min(created_at) AS since FROM active_suppressions "
        "WHERE address IS NOT NULL AND (scope = 'global' OR scope = $list) GROUP BY address ORDER BY address",
        {"list": list},
    )


def list_suppressions(store: Store, *, scope: str | None = None, reason: str | None = None,
                      include_lifted: bool = False, limit: int = 100) -> pl.DataFrame:
    """Suppressions, newest first (filters: scope, reason; lifted ones too when asked).

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    return store.query(
        "SELECT address, contact_id, scope, reason, detail, source, created_at, created_by, lifted_at, lifted_by, "
        "lift_reason, suppression_id FROM suppressions "
        "WHERE ($scope IS NULL OR scope = $scope) AND ($reason IS NULL OR reason = $reason) "
        "AND ($lifted OR lifted_at IS NULL) ORDER BY created_at DESC, address LIMIT $limit",
        {"scope": scope, "reason": reason, "lifted": include_lifted, "limit": limit},
    )


def explain(store: Store, address: str) -> pl.DataFrame:
    """Every suppression of an address (active and lifted) with the event that caused it.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    return store.sql("suppression_explain", {"address": _normal(address)})
