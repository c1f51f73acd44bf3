"""KPIs by segment, engagement tier and contact attribute; a segment's composition.

Importing this module (the analytics package does) adds to the KPI layer's whitelist:

- ``segment``: the segments the message's contact belonged to *when it was sent* (the
  membership interval holding the send time, see :mod:`workbench.audience.segments`); a
  contact in two segments counts in both slices, one in none has a null segment;
- ``tier``: the engagement tier at send time (from the ``tier:*`` segments that
  :func:`workbench.audience.tiers.materialise_tiers` keeps);
- ``country``, ``region``, ``language``, ``age_band``, ``signup_source``: the contact's
  current attributes.

A message's contact is the stored contact with its ``contact_id``, else the one with its
recipient address.

Examples
--------
>>> kpis(store, by=["segment", "week"], where={"segment": ["paris_25_34"]})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from workbench.analytics.dimensions import Dimension, register_dimension, register_join
from workbench.analytics.kpis import kpis
from workbench.errors import ConfigError
from workbench.store import Store

__all__ = ["AGE_BANDS", "COMPOSITION_ATTRIBUTES", "Experiment", "composition", "experiment", "segment_kpis"]

_CONTACT = "coalesce(ct_id.contact_id, ct_em.contact_id)"
#: ages of the ``age_band`` dimension and of compositions
AGE_BANDS = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 64))
_AGE_SQL = ("CASE WHEN {a} IS NULL THEN NULL WHEN {a} < 18 THEN 'under 18' "
            + " ".join(f"WHEN {{a}} <= {hi} THEN '{lo}–{hi}'" for lo, hi in AGE_BANDS) + " ELSE '65+' END")

register_join(
    "contact",
    "LEFT JOIN contacts AS ct_id ON ct_id.contact_id = m.contact_id\n"
    "LEFT JOIN contacts AS ct_em ON ct_id.contact_id IS NULL AND ct_em.email_ascii = lower(m.recipient)",
    ("contact_id", "recipient"),
)
register_join(
    "segment_members",
    f"LEFT JOIN segment_members AS sgm ON sgm.contact_id = {_CONTACT} AND sgm.segment NOT LIKE 'tier:%'\n"
    "    AND m.sent_at >= sgm.valid_from AND (sgm.valid_to IS NULL OR m.sent_at < sgm.valid_to)",
)
register_join(
    "tier_members",
    f"LEFT JOIN segment_members AS tgm ON tgm.contact_id = {_CONTACT} AND tgm.segment LIKE 'tier:%'\n"
    "    AND m.sent_at >= tgm.valid_from AND (tgm.valid_to IS NULL OR m.sent_at < tgm.valid_to)",
)
register_join("contact_attributes", f"LEFT JOIN contacts AS cta ON cta.contact_id = {_CONTACT}")
register_dimension(Dimension("segment", "sgm.segment", ("contact", "segment_members"),
                             "segment of the contact when the message was sent (workbench segment create)"))
register_dimension(Dimension("tier", "replace(tgm.segment, 'tier:', '')", ("contact", "tier_members"),
                             "engagement tier of the contact when the message was sent (workbench segment tiers)"))
register_dimension(Dimension("contact", f"coalesce({_CONTACT}, m.contact_id, lower(m.recipient))", ("contact",),
                             "the contact (its id, else the recipient address): the unit of segment experiments",
                             columns=("contact_id", "recipient")))
for _name, _sql in (("country", "cta.country"), ("region", "cta.region"), ("language", "cta.language"),
                    ("signup_source", "cta.signup_source"), ("age_band", _AGE_SQL.format(a="cta.age"))):
    register_dimension(Dimension(_name, _sql, ("contact", "contact_attributes"), f"contact's {_name.replace('_', ' ')} (current)"))

#: attributes a composition can be broken down by
COMPOSITION_ATTRIBUTES: dict[str, str] = {
    "country": "c.country", "region": "c.region", "city": "c.city", "language": "c.language",
    "signup_source": "c.signup_source", "email_domain": "c.email_domain", "gender": "c.gender",
    "age_band": _AGE_SQL.format(a="c.age"), "provider": "coalesce(pd.provider, 'other')",
    "is_role": "c.is_role::VARCHAR", "is_disposable": "c.is_disposable::VARCHAR",
}


def segment_kpis(
    store: Store,
    segments: Sequence[str] | str,
    by: Sequence[str] = ("week",),
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    where: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """Every KPI for the named segments (membership at send time), sliced further by ``by``.

    Raises
    ------
    ConfigError
        No segment named, an unknown dimension or a bad date.
    StoreError
        The store cannot be read.
    """
    names = [segments] if isinstance(segments, str) else list(segments)
    if not names:
        raise ConfigError("name at least one segment")
    return kpis(store, by=["segment", *[b for b in by if b != "segment"]], start=start, end=end,
                where={**(where or {}), "segment": names})


def composition(store: Store, segment: str | None, by: str, *, as_of: date | datetime | str | None = None,
                top: int = 15) -> pl.DataFrame:
    """A segment's members broken down by one attribute, against the whole base.

    Parameters
    ----------
    segment:
        A saved segment (its materialised membership at ``as_of``, default its latest run),
        or ``None`` for the whole base.
    by:
        One of :data:`COMPOSITION_ATTRIBUTES`.
    top:
        Keep the largest values; the rest are summed as ``(other)``.

    Returns
    -------
    polars.DataFrame
        ``value``, ``members``, ``share`` (of the segment), ``base_share`` (of all contacts)
        and ``index`` (share ÷ base share: 1.5 means over-represented by half).

    Raises
    ------
    ConfigError
        An unknown attribute or segment.
    StoreError
        The store cannot be read.
    """
    if by not in COMPOSITION_ATTRIBUTES:
        raise ConfigError(f"unknown attribute {by!r}; choose from {', '.join(COMPOSITION_ATTRIBUTES)}")
    from workbench.audience import segments as seg

    expr = COMPOSITION_ATTRIBUTES[by]
    base = store.query(
        f"SELECT coalesce({expr}, '(unknown)') AS value, count(*) AS base FROM contacts c "
        "LEFT JOIN provider_domains pd ON pd.domain = c.email_domain GROUP BY 1")
    if segment is None:
        counts = base.rename({"base": "members"})
    else:
        ids = seg.members(store, segment, as_of, columns=("contact_id",))
        counts = store.query(
            f"SELECT coalesce({expr}, '(unknown)') AS value, count(*) AS members FROM contacts c "
            "LEFT JOIN provider_domains pd ON pd.domain = c.email_domain "
            "WHERE c.contact_id IN (SELECT unnest($ids::VARCHAR[])) GROUP BY 1", {"ids": ids["contact_id"].to_list()})
    frame = counts.join(base, on="value", how="left").sort(["members", "value"], descending=[True, False])
    if len(frame) > top:
        rest = frame.slice(top).select(pl.lit("(other)").alias("value"), pl.col("members").sum(), pl.col("base").sum())
        frame = pl.concat([frame.head(top), rest])
    members, total = int(frame["members"].sum() or 0), int(base["base"].sum() or 0)
    return frame.with_columns(
        share=pl.col("members") / members if members else pl.lit(None, dtype=pl.Float64),
        base_share=pl.col("base") / total if total else pl.lit(None, dtype=pl.Float64),
    ).with_columns(index=pl.col("share") / pl.col("base_share")).drop("base")


@dataclass
class Experiment:
    """A comparison of groups on one rate: the counts, the statistics and the verdict."""

    metric: str
    by: str
    counts: pl.DataFrame
    comparisons: pl.DataFrame
    verdict: list[str]


def experiment(
    store: Store,
    groups: Sequence[str],
    metric: str = "human_click_rate",
    *,
    by: str = "segment",
    control: str | None = None,
    where: Mapping[str, Any] | None = None,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
    cluster: bool | None = None,
) -> Experiment:
    """Compare segments (membership at send time) or A/B variants (``by="campaign"``) on a
    rate of the KPI layer, each against the control (default: the first group).

    Parameters
    ----------
    groups:
        Segment names (or campaign ids, or values of any other dimension named in ``by``).
    metric:
        A rate of :data:`workbench.analytics.RATES`: its numerator are the successes, its
        denominator the trials (``human_click_rate``: human clicks of delivered messages).
    where:
        Further filters (``{"stream": "newsletter"}``).
    cluster:
        Treat each contact as the unit (its messages are not independent: a clicker
        clicks again) with cluster-robust variances; default: yes, except for
        ``by="campaign"`` (an A/B test of one send, one message per contact).

    Raises
    ------
    ConfigError
        An unknown metric or dimension, fewer than two groups, or a group with no data.
    StoreError
        The store cannot be read.
    """
    from workbench.analytics import experiments as ex
    from workbench.analytics.kpis import RATE_BY_NAME

    if metric not in RATE_BY_NAME:
        raise ConfigError(f"unknown metric {metric!r}; choose from {', '.join(RATE_BY_NAME)}")
    names = list(dict.fromkeys(str(g) for g in groups))
    if len(names) < 2:
        raise ConfigError("compare at least two groups")
    rate = RATE_BY_NAME[metric]
    frame = kpis(store, by=[by], start=start, end=end, where={**(where or {}), by: names}, fill_gaps=False)
    counts = (pl.DataFrame({by: names}).join(frame, on=by, how="left")
              .select(pl.col(by).alias("group"), pl.col(rate.numerator).fill_null(0).alias("successes"),
                      pl.col(rate.denominator).fill_null(0).alias("trials"), pl.col(metric).alias("rate"),
                      pl.col(f"{metric}_lo").alias("rate_lo"), pl.col(f"{metric}_hi").alias("rate_hi")))
    empty = counts.filter(pl.col("trials") == 0)["group"].to_list()
    if empty:
        raise ConfigError(f"no {rate.denominator} messages for {', '.join(empty)} in the window "
                          f"(is the segment materialised over it? `workbench segment create NAME RULE --backfill-from …`)")
    units = None
    if cluster if cluster is not None else by != "campaign":
        per_contact = kpis(store, by=[by, "contact"], start=start, end=end, where={**(where or {}), by: names},
                           fill_gaps=False, intervals=False)
        units = per_contact.select(pl.col(by).alias("group"), pl.col(rate.numerator).alias("successes"),
                                   pl.col(rate.denominator).alias("trials")).filter(pl.col("trials") > 0)
    try:
        result = ex.compare(counts, control=control, alpha=alpha, correction=correction, units=units)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return Experiment(metric, by, counts, result, ex.verdict(result, metric=metric, alpha=alpha))
