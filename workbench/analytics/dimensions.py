"""The dimensions a KPI can be sliced by: a whitelist of names mapped to SQL expressions.

``kpis(store, by=["provider", "day"])`` never puts user text into SQL: each name in ``by``
must be a key of :data:`DIMENSIONS`, whose SQL expression (over ``m``, the per-message rows
of ``workbench/sql/kpi_counts.sql``) and joins are written here; filter values are bound
parameters. A later module adds a dimension with :func:`register_dimension` (segments, from
the audience issue, join their membership table this way).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.errors import ConfigError

__all__ = [
    "DIMENSIONS",
    "JOINS",
    "MESSAGE_COLUMNS",
    "TIME_GRAINS",
    "Dimension",
    "register_dimension",
    "register_join",
    "render",
    "resolve",
]


@dataclass(frozen=True)
class Dimension:
    """A way to slice KPIs.

    Attributes
    ----------
    name:
        What users type (``--by provider``).
    sql:
        The SQL expression, over ``m`` (the per-message row) and the named joins.
    joins:
        Names in :data:`JOINS` the expression needs.
    description:
        One line for ``workbench kpi --help`` and the docs.
    grain:
        For time dimensions, the polars ``interval`` of the period (``"1d"``, ``"1w"``,
        ``"1mo"``), used to fill gaps in time series.
    columns:
        Per-message columns (keys of :data:`MESSAGE_COLUMNS`) the expression reads; only
        those a query needs are folded, which keeps the per-message step lean.
    """

    name: str
    sql: str
    joins: tuple[str, ...] = ()
    description: str = ""
    grain: str | None = None
    columns: tuple[str, ...] = ()


#: per-message columns a dimension can read, each folded from the message's events (any
#: event that carries it: they agree; where an MTA retried from another IP, the greatest)
MESSAGE_COLUMNS: dict[str, str] = {
    name: f"max({name}) AS {name}"
    for name in ("campaign_id", "mailbox_provider", "recipient_domain", "sending_domain", "sending_ip", "ip_pool",
                 "contact_id", "recipient")
}


#: joins a dimension may need, by name (applied once each, in this order)
#: the per-message columns each join reads
JOIN_COLUMNS: dict[str, tuple[str, ...]] = {"campaigns": ("campaign_id",), "sending_domains": ("sending_domain",)}

JOINS: dict[str, str] = {
    "campaigns": "LEFT JOIN campaigns AS c ON c.campaign_id = m.campaign_id",
    "sending_domains": (
        "LEFT JOIN sending_domains AS sd ON sd.domain = coalesce(m.sending_domain, c.sending_domain)"
    ),
}

_SUBDOMAIN = "coalesce(m.sending_domain, c.sending_domain)"

DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("campaign", "m.campaign_id", description="campaign id (one per send; transactional: template and day)",
                  columns=("campaign_id",)),
        Dimension("stream", "c.stream", ("campaigns",), "sending stream (newsletter, promotions, transactional, …)"),
        Dimension("provider", "m.mailbox_provider", description="mailbox provider (gmail, microsoft, yahoo, apple, …)",
                  columns=("mailbox_provider",)),
        Dimension("recipient_domain", "m.recipient_domain", description="recipient's domain", columns=("recipient_domain",)),
        Dimension(
            "domain", f"coalesce(sd.parent_domain, {_SUBDOMAIN})", ("campaigns", "sending_domains"),
            "organisational sending domain (parent of the subdomain, from the infrastructure file)",
            columns=("sending_domain",),
        ),
        Dimension("subdomain", _SUBDOMAIN, ("campaigns",), "sending (sub)domain, e.g. news.brightmart.example",
                  columns=("sending_domain",)),
        Dimension("ip", "m.sending_ip", description="sending IP", columns=("sending_ip",)),
        Dimension("pool", "coalesce(m.ip_pool, c.ip_pool)", ("campaigns",), "IP pool", columns=("ip_pool",)),
        Dimension("day", "CAST(date_trunc('day', m.sent_at) AS DATE)", description="send day (UTC)", grain="1d"),
        Dimension("week", "CAST(date_trunc('week', m.sent_at) AS DATE)", description="send week (ISO, from Monday)", grain="1w"),
        Dimension("month", "CAST(date_trunc('month', m.sent_at) AS DATE)", description="send month", grain="1mo"),
    )
}

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

#: the time dimensions
TIME_GRAINS = ("day", "week", "month")


def register_join(name: str, sql: str, columns: tuple[str, ...] = ()) -> None:
    """Add a join that dimensions can name (e.g. segment membership, joined on
    ``m.contact_id``: pass ``columns=("contact_id",)``).

    Raises
    ------
    ConfigError
        A different join is already registered under ``name``, or a column is unknown.
    """
    if JOINS.get(name, sql) != sql:
        raise ConfigError(f"a different join is already registered as {name!r}")
    unknown = [c for c in columns if c not in MESSAGE_COLUMNS]
    if unknown:
        raise ConfigError(f"join {name!r} reads unknown message columns {unknown}")
    JOINS[name] = sql
    JOIN_COLUMNS[name] = columns


def register_dimension(dimension: Dimension) -> None:
    """Add a dimension to the whitelist (for example ``segment``, once segments exist).

    Raises
    ------
    ConfigError
        The name is not a lower-case identifier or is taken by another dimension, or a join
        it names is not registered.
    """
    if not _NAME.match(dimension.name):
        raise ConfigError(f"dimension name {dimension.name!r} must be a lower-case identifier")
    known = DIMENSIONS.get(dimension.name)
    if known is not None and known != dimension:
        raise ConfigError(f"dimension {dimension.name!r} already exists")
    missing = [j for j in dimension.joins if j not in JOINS]
    if missing:
        raise ConfigError(f"dimension {dimension.name!r} needs unregistered joins {missing}: register_join() them first")
    unknown = [c for c in dimension.columns if c not in MESSAGE_COLUMNS]
    if unknown:
        raise ConfigError(f"dimension {dimension.name!r} reads unknown message columns {unknown}; known: {', '.join(MESSAGE_COLUMNS)}")
    DIMENSIONS[dimension.name] = dimension


def resolve(by: Sequence[str] | str | None) -> list[Dimension]:
    """The dimensions named in ``by`` (a list or a comma-separated string), in order.

    Raises
    ------
    ConfigError
        A name is not a known dimension, or is repeated, or two time grains are asked for.
    """
    if by is None:
        return []
    names = [p.strip() for p in by.split(",")] if isinstance(by, str) else [str(p).strip() for p in by]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown:
        raise ConfigError(f"unknown dimension(s) {', '.join(unknown)}; choose from {', '.join(DIMENSIONS)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"a dimension is repeated in {names}")
    if sum(n in TIME_GRAINS for n in names) > 1:
        raise ConfigError("slice by one time grain at most (day, week or month)")
    return [DIMENSIONS[n] for n in names]


def render(template: str, dims: Sequence[Dimension], where: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """Fill the markers of ``kpi_counts.sql``; returns the SQL and the filter parameters.

    ``where`` maps dimension names to a value or a list of values (``None`` matches a
    missing value): ``{"provider": ["gmail", "yahoo"], "ip": "192.0.2.11"}``.

    Raises
    ------
    ConfigError
        ``where`` names an unknown dimension or gives an empty list.
    """
    params: dict[str, Any] = {}
    filters: list[str] = []
    filter_dims: list[Dimension] = []
    for i, (name, value) in enumerate((where or {}).items()):
        (dim,) = resolve([name])
        filter_dims.append(dim)
        values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
        if not values:
            raise ConfigError(f"filter on {name!r} has no values")
        keys = []
        for j, v in enumerate(v for v in values if v is not None):
            key = f"f{i}_{j}"
            params[key] = v
            keys.append(f"${key}")
        terms = [f"({dim.sql}) IN ({', '.join(keys)})"] if keys else []
        if any(v is None for v in values):
            terms.append(f"({dim.sql}) IS NULL")
        filters.append(f"AND ({' OR '.join(terms)})")
    needed = {j for d in (*dims, *filter_dims) for j in d.joins}
    joins = "\n".join(sql for name, sql in JOINS.items() if name in needed)
    wanted = {c for d in (*dims, *filter_dims) for c in d.columns} | {c for j in needed for c in JOIN_COLUMNS.get(j, ())}
    columns = "".join(f"{sql},\n        " for name, sql in MESSAGE_COLUMNS.items() if name in wanted)
    select = "".join(f"{d.sql} AS {d.name},\n    " for d in dims)
    group = f"GROUP BY {', '.join(str(i + 1) for i in range(len(dims)))}" if dims else ""
    sql = (
        template.replace("/* MESSAGE COLUMNS */", columns)
        .replace("/* DIMENSIONS */", select)
        .replace("/* JOINS */", joins)
        .replace("/* FILTERS */", "\n  ".join(filters))
        .replace("/* GROUP BY */", group)
    )
    return sql, params
