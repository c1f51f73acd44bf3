"""Engagement tiers out of the box, and who to stop mailing (the sunset recommendation).

Tiers (:func:`workbench.audience.rules.tier_rule`, human opens and clicks only):
``active_30``, ``active_90``, ``at_risk`` (last engaged 91–180 days ago), ``inactive``
(not in 180 days), ``never_engaged`` (mailed for over 30 days, never engaged) and ``new``.
They are segments like any other (``{tier: at_risk}`` in a rule), and
:func:`materialise_tiers` stores them as segments ``tier:<name>`` so that KPIs can be sliced
by the tier each contact was in when mailed (the ``tier`` dimension).

The sunset policy follows the mailbox providers' advice (mail people who want it; Gmail
and Yahoo weigh engagement): contacts **inactive** for 180 days, or **never engaged**
after at least ``min_deliveries`` deliveries, should leave the regular sends (a last
win-back message first, then suppression); contacts **at risk** should get a re-engagement
campaign at a lower frequency.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from workbench.audience import segments
from workbench.audience.compile import Definition
from workbench.audience.rules import TIERS, Tier
from workbench.store import Store

__all__ = ["RECOMMENDATIONS", "TIERS", "materialise_tiers", "sunset", "tier_sizes"]

#: what to do with each tier
RECOMMENDATIONS: dict[str, str] = {
    "active_30": "keep mailing",
    "active_90": "keep mailing; watch the frequency",
    "at_risk": "re-engage: a win-back message, lower frequency",
    "inactive": "sunset: one last win-back message, then stop (suppress)",
    "never_engaged": "sunset: stop after a last confirmation request",
    "new": "welcome series; judge after 30 days",
}


def _definition(name: str) -> Definition:
    return Definition(f"tier:{name}", Tier(name), f"engagement tier {name}: {RECOMMENDATIONS[name]}")


def materialise_tiers(store: Store, *, as_of: date | datetime | str | None = None,
                      backfill_from: date | datetime | str | None = None, every_days: int = 7) -> pl.DataFrame:
    """Save the six tiers as segments ``tier:<name>`` and materialise them (as of now or
    ``as_of``; with ``backfill_from``, every ``every_days`` since). Returns each tier's size.

    Raises
    ------
    ConfigError
        Bad dates.
    StoreError
        The store cannot be written.
    """
    rows = []
    for name in TIERS:
        run = segments.create(store, _definition(name), as_of=as_of, backfill_from=backfill_from, every_days=every_days)
        rows.append((name, run.size))
    return _with_shares(pl.DataFrame(rows, schema={"tier": pl.Utf8, "contacts": pl.Int64}, orient="row"))


def _with_shares(frame: pl.DataFrame) -> pl.DataFrame:
    total = int(frame["contacts"].sum() or 0)
    return frame.with_columns(
        share=(pl.col("contacts") / total) if total else pl.lit(None, dtype=pl.Float64),
        recommendation=pl.col("tier").replace_strict(RECOMMENDATIONS, default=None),
    )


def tier_sizes(store: Store, as_of: date | datetime | str | None = None, *, include_suppressed: bool = False) -> pl.DataFrame:
    """How many contacts each tier holds as of a time (computed, nothing written).

    Returns
    -------
    polars.DataFrame
        ``tier``, ``contacts``, ``share``, ``recommendation``.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    rows = []
    for name in TIERS:
        d = Definition(f"tier:{name}", Tier(name), include_suppressed=include_suppressed)
        rows.append((name, segments.size(store, d, as_of)))
    return _with_shares(pl.DataFrame(rows, schema={"tier": pl.Utf8, "contacts": pl.Int64}, orient="row"))


def sunset(store: Store, as_of: date | datetime | str | None = None, *, min_deliveries: int = 5,
           recent_days: int = 30) -> pl.DataFrame:
    """The contacts to stop mailing (and those to re-engage first), with the evidence.

    Inactive contacts and never-engaged contacts with at least ``min_deliveries``
    deliveries get ``sunset``; at-risk contacts get ``re-engage``. Suppressed contacts are
    left out (they are not mailed anyway).

    Returns
    -------
    polars.DataFrame
        ``contact_id``, ``email``, ``tier``, ``action``, ``last_engaged``,
        ``first_delivered``, ``delivered``, ``delivered_recent`` (the last ``recent_days``
        days: the mail that sunsetting saves), ``complaints``; sunsets first.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    stamp = segments._as_time(as_of)
    parts = []
    for name, action in (("inactive", "sunset"), ("never_engaged", "sunset"), ("at_risk", "re-engage")):
        ids = segments.evaluate(store, Definition(f"tier:{name}", Tier(name)), stamp)
        parts.append(ids.with_columns(tier=pl.lit(name), action=pl.lit(action)))
    candidates = pl.concat(parts)
    schema: dict[str, pl.DataType] = {
        "contact_id": pl.Utf8(), "email": pl.Utf8(), "tier": pl.Utf8(), "action": pl.Utf8(), "last_engaged": pl.Datetime("us"),
        "first_delivered": pl.Datetime("us"), "delivered": pl.Int64(), "delivered_recent": pl.Int64(), "complaints": pl.Int64()}
    if candidates.is_empty():
        return pl.DataFrame(schema=schema)
    activity = store.sql("contact_activity", {"as_of": stamp, "recent_from": stamp - timedelta(days=recent_days)})
    emails = store.query("SELECT contact_id, email FROM contacts WHERE contact_id IN (SELECT unnest($ids::VARCHAR[]))",
                         {"ids": candidates["contact_id"].to_list()})
    out = (candidates.join(emails, on="contact_id", how="left").join(activity, on="contact_id", how="left")
           .with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in ("delivered", "delivered_recent", "complaints")))
    out = out.filter((pl.col("tier") != "never_engaged") | (pl.col("delivered") >= min_deliveries))
    return out.select(list(schema)).sort(["action", "delivered_recent", "contact_id"], descending=[True, True, False])
