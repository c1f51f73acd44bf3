"""Segment definitions compiled to DuckDB SQL: one query, values as bound parameters.

A definition is a rule (:mod:`workbench.audience.rules`) plus an optional ``list`` (the
segment is that list's audience: subscribed, and not suppressed for it) and
``include_suppressed`` (default false: contacts with an active suppression are left out).
It is evaluated *as of* a time: contacts who had signed up by then, engagement before it,
suppressions in force then. The query returns one column, ``contact_id``.

Engagement conditions are answered by one scan of ``events`` (each condition a counted
``FILTER``), grouped per contact id and recipient, then tied to contacts: by the event's
contact id when it is a stored contact's, else by its recipient address. Every leaf is
null-safe (an unknown age is neither 25–34 nor not), so ``not`` is the exact complement.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from workbench.audience import rules as R
from workbench.errors import ConfigError

__all__ = ["Compiled", "Definition", "compile_definition", "load_definition"]


@dataclass(frozen=True)
class Definition:
    """A segment: its name, rule, and audience options."""

    name: str
    rule: R.Rule
    description: str = ""
    list_name: str | None = None
    include_suppressed: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str | None = None) -> Definition:
        """From the data form: ``{name, description, list, include_suppressed, rule}``, or a
        bare rule (then ``name`` must be given).

        Raises
        ------
        ConfigError
            A malformed definition or rule.
        """
        if not isinstance(data, Mapping):
            raise ConfigError("a segment definition is a mapping with a rule")
        if "rule" not in data:
            data = {"rule": data}
        extra = set(data) - {"name", "description", "list", "include_suppressed", "rule"}
        if extra:
            raise ConfigError(f"unknown keys in the segment definition: {sorted(extra)}")
        chosen = name or data.get("name")
        if not chosen or not isinstance(chosen, str) or not R._NAME.match(chosen):
            raise ConfigError(f"a segment needs a name (letters, digits, - _ . :), not {chosen!r}")
        include = data.get("include_suppressed", False)
        if not isinstance(include, bool):
            raise ConfigError("include_suppressed is true or false")
        return cls(chosen, R.parse_rule(data["rule"]), str(data.get("description") or ""),
                   str(data["list"]) if data.get("list") else None, include)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        if self.list_name:
            out["list"] = self.list_name
        if self.include_suppressed:
            out["include_suppressed"] = True
        out["rule"] = self.rule.to_dict()
        return out

    @property
    def sha256(self) -> str:
        """A hash of what decides membership (the description left out)."""
        data = {k: v for k, v in self.to_dict().items() if k != "description"}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def load_definition(path: str | Path, name: str | None = None) -> Definition:
    """A definition from a YAML or JSON file (``name`` overrides the file's).

    Raises
    ------
    ConfigError
        The file is missing, not YAML / JSON, or not a valid definition.
    """
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no rule file {file}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not YAML or JSON: {exc}") from exc
    return Definition.from_dict(data, name or (data.get("name") if isinstance(data, dict) else None) or file.stem)


@dataclass
class Compiled:
    """The SQL of a definition as of a time, with its parameters."""

    sql: str
    params: dict[str, Any]
    engagement: int = 0


@dataclass
class _Ctx:
    as_of: datetime
    resolve: Callable[[str], Definition] | None
    params: dict[str, Any] = field(default_factory=dict)
    conditions: list[tuple[str, int]] = field(default_factory=list)
    event_types: set[str] = field(default_factory=set)
    earliest: datetime | None = None
    unbounded: bool = False
    provider: bool = False
    seen: tuple[str, ...] = ()

    def bind(self, value: Any) -> str:
        key = f"p{len(self.params)}"
        self.params[key] = value
        return f"${key}"


def _point(value: Any, as_of: datetime) -> datetime:
    if isinstance(value, str):
        days = int(R._RELATIVE.match(value).group(1))  # type: ignore[union-attr]
        return as_of - timedelta(days=days)
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min)


def _attr(node: R.Attr, ctx: _Ctx) -> str:
    kind = R.ATTRIBUTES.get(node.name, "json")
    if node.name == "provider":
        ctx.provider = True
        column = "pd.provider"
    elif kind == "json":
        column = f"(c.attributes ->> {ctx.bind(node.name[11:])})"
    else:
        column = f"c.{node.name}"
    op, value = node.op, node.value
    if op == "exists":
        return f"{column} IS {'NOT ' if value else ''}NULL"
    if kind in ("date", "time"):
        cast = "CAST({} AS DATE)" if kind == "date" else "{}"
        if op in ("within_days", "older_than_days"):
            edge = ctx.bind((ctx.as_of - timedelta(days=value)) if kind == "time" else (ctx.as_of - timedelta(days=value)).date())
            return f"{column} >= {edge} AND {column} <= {ctx.bind(ctx.as_of)}" if op == "within_days" else f"{column} < {edge}"
        if op in ("after", "before", "gt", "gte", "lt", "lte", "equals", "not_equals", "between"):
            def bound(v: Any) -> str:
                point = _point(R._when(v, node.name) if not isinstance(v, (date, datetime)) else v, ctx.as_of)
                return cast.format(ctx.bind(point.date() if kind == "date" else point))
            sym = {"after": ">", "before": "<", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "equals": "=", "not_equals": "<>"}
            if op == "between":
                return f"{column} BETWEEN {bound(value[0])} AND {bound(value[1])}"
            return f"{column} {sym[op]} {bound(value)}"
        raise ConfigError(f"{node.name}: {op} does not apply to a date")
    numeric = kind == "number" or (kind == "json" and op in ("gt", "gte", "lt", "lte", "between")) or (
        kind == "json" and isinstance(value, (int, float)) and not isinstance(value, bool))
    if numeric and kind == "json":
        column = f"TRY_CAST({column} AS DOUBLE)"
    if op in ("after", "before", "within_days", "older_than_days"):
        raise ConfigError(f"{node.name}: {op} applies to dates only")
    if kind == "bool":
        if op not in ("equals", "not_equals") or not isinstance(value, bool):
            raise ConfigError(f"{node.name}: compare with equals: true / false")
        return f"{column} {'=' if op == 'equals' else '<>'} {ctx.bind(value)}"
    text = not numeric
    col = f"lower({column})" if text else column

    def val(v: Any) -> str:
        if text:
            return f"lower({ctx.bind(str(v))})"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{node.name}: {v!r} is not a number")
        return ctx.bind(v)

    if op in ("in", "not_in"):
        listed = ", ".join(val(v) for v in value)
        return f"{col} {'NOT ' if op == 'not_in' else ''}IN ({listed})"
    if op == "between":
        return f"{col} BETWEEN {val(value[0])} AND {val(value[1])}"
    if op in ("contains", "starts_with", "ends_with"):
        if not text:
            raise ConfigError(f"{node.name}: {op} applies to text")
        return f"{op}({col}, {val(value)})"
    symbol = {"equals": "=", "not_equals": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    return f"{col} {symbol} {val(value)}"


def _engagement(node: R.Engagement, ctx: _Ctx) -> str:
    types = R.ENGAGEMENT_KINDS[node.kind]
    ctx.event_types.update(types)
    parts = [f"event_type IN ({', '.join(ctx.bind(t) for t in types)})"]
    if node.kind in ("opened", "clicked", "engaged") and not node.include_machine:
        parts.append("NOT coalesce(is_machine, false)")
    if node.within_days is not None:
        lo = ctx.as_of - timedelta(days=node.within_days)
        parts.append(f"ts >= {ctx.bind(lo)}")
        ctx.earliest = lo if ctx.earliest is None else min(ctx.earliest, lo)
    else:
        ctx.unbounded = True
    if node.older_than_days is not None:
        parts.append(f"ts < {ctx.bind(ctx.as_of - timedelta(days=node.older_than_days))}")
    if node.campaigns:
        exact = [c for c in node.campaigns if "*" not in c and "?" not in c]
        patterns = [c for c in node.campaigns if c not in exact]
        terms = [f"campaign_id IN ({', '.join(ctx.bind(c) for c in exact)})"] if exact else []
        for p in patterns:
            like = p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%").replace("?", "_")
            terms.append(f"campaign_id LIKE {ctx.bind(like)} ESCAPE '\\'")
        parts.append(f"({' OR '.join(terms)})")
    if node.stream:
        parts.append(f"campaign_id IN (SELECT campaign_id FROM campaigns WHERE stream = {ctx.bind(node.stream)})")
    condition = " AND ".join(parts)
    index = len(ctx.conditions)
    ctx.conditions.append((condition, node.min_count))
    return f"coalesce(eng.n{index}, 0) >= {ctx.bind(node.min_count)}"


def _list(name: str, status: str, ctx: _Ctx) -> str:
    key = ctx.bind(name)
    subscribed = (f"(c.contact_id IN (SELECT contact_id FROM contact_subscriptions WHERE list_name = {key} "
                  f"AND status = 'subscribed' AND coalesce(consent_at, updated_at) <= $as_of) "
                  f"AND c.contact_id NOT IN (SELECT contact_id FROM supp WHERE scope = {key}))")
    if status == "subscribed":
        return subscribed
    return f"(c.contact_id IN (SELECT contact_id FROM contact_subscriptions WHERE list_name = {key}) AND NOT {subscribed})"


def _expr(node: R.Rule, ctx: _Ctx) -> str:
    if isinstance(node, R.All):
        return "(" + " AND ".join(_expr(i, ctx) for i in node.items) + ")" if node.items else "TRUE"
    if isinstance(node, R.Any_):
        return "(" + " OR ".join(_expr(i, ctx) for i in node.items) + ")" if node.items else "FALSE"
    if isinstance(node, R.Not):
        return f"(NOT {_expr(node.item, ctx)})"
    if isinstance(node, R.Attr):
        return f"coalesce({_attr(node, ctx)}, false)"
    if isinstance(node, R.Engagement):
        return _engagement(node, ctx)
    if isinstance(node, R.InList):
        return _list(node.list_name, node.status, ctx)
    if isinstance(node, R.Tier):
        return _expr(R.tier_rule(node.name), ctx)
    if isinstance(node, R.SegmentRef):
        if node.name in ctx.seen:
            raise ConfigError(f"segment {node.name!r} refers to itself (through {' -> '.join(ctx.seen)})")
        if ctx.resolve is None:
            raise ConfigError(f"segment {node.name!r}: no stored segments to resolve it from")
        other = ctx.resolve(node.name)
        outer = ctx.seen
        ctx.seen = (*outer, node.name)
        inner = _expr(other.rule, ctx)
        if other.list_name:
            inner = f"({inner} AND {_list(other.list_name, 'subscribed', ctx)})"
        ctx.seen = outer
        return inner
    raise ConfigError(f"not a rule: {node!r}")


def compile_definition(definition: Definition, as_of: datetime,
                       resolve: Callable[[str], Definition] | None = None) -> Compiled:
    """The SQL selecting the definition's members as of ``as_of`` (UTC, naive).

    Parameters
    ----------
    definition:
        The segment.
    as_of:
        The time the membership is evaluated at: contacts signed up by then, engagement
        before it, suppressions in force then.
    resolve:
        Looks up another segment's definition, for ``{segment: NAME}`` rules.

    Raises
    ------
    ConfigError
        A rule cannot be compiled (a referenced segment is unknown or refers back).
    """
    ctx = _Ctx(as_of, resolve, seen=(definition.name,))
    ctx.params["as_of"] = as_of
    where = _expr(definition.rule, ctx)
    if definition.list_name:
        where = f"{where} AND {_list(definition.list_name, 'subscribed', ctx)}"
    excluded = "" if definition.include_suppressed else (
        "\n  AND c.contact_id NOT IN (SELECT contact_id FROM supp WHERE scope = 'global'"
        + (f" OR scope = {ctx.bind(definition.list_name)})" if definition.list_name else ")"))
    active = "coalesce(s.event_at, s.created_at) <= $as_of AND (s.lifted_at IS NULL OR s.lifted_at > $as_of)"
    ctes = [
        "supp AS (\n"
        f"    SELECT s.contact_id, s.scope FROM suppressions s WHERE s.contact_id IS NOT NULL AND {active}\n"
        f"    UNION SELECT k.contact_id, s.scope FROM suppressions s JOIN contacts k ON k.email = s.address WHERE {active}\n"
        f"    UNION SELECT k.contact_id, s.scope FROM suppressions s JOIN contacts k ON k.email_ascii = s.address WHERE {active}\n)"
    ]
    joins = ""
    if ctx.conditions:
        counts = ",\n           ".join(
            f"count({'DISTINCT message_id' if n > 1 else '*'}) FILTER (WHERE {cond}) AS n{i}"
            for i, (cond, n) in enumerate(ctx.conditions))
        sums = ", ".join(f"sum(g.n{i}) AS n{i}" for i in range(len(ctx.conditions)))
        types = ", ".join(ctx.bind(t) for t in sorted(ctx.event_types))
        lower = "" if ctx.unbounded or ctx.earliest is None else f" AND ts >= {ctx.bind(ctx.earliest)}"
        ctes.append(
            "grouped AS (\n"
            f"    SELECT contact_id, recipient,\n           {counts}\n"
            f"    FROM events WHERE event_type IN ({types}) AND ts < $as_of{lower}\n"
            "    GROUP BY contact_id, recipient\n), eng AS (\n"
            f"    SELECT coalesce(ci.contact_id, ka.contact_id, ku.contact_id) AS contact_id, {sums}\n"
            "    FROM grouped g\n"
            "    LEFT JOIN contacts ci ON ci.contact_id = g.contact_id\n"
            "    LEFT JOIN contacts ka ON ci.contact_id IS NULL AND ka.email_ascii = lower(g.recipient)\n"
            "    LEFT JOIN contacts ku ON ci.contact_id IS NULL AND ka.contact_id IS NULL AND ku.email = lower(g.recipient)\n"
            "    GROUP BY 1\n)"
        )
        joins += "\nLEFT JOIN eng ON eng.contact_id = c.contact_id"
    if ctx.provider:
        joins += "\nLEFT JOIN provider_domains pd ON pd.domain = c.email_domain"
    sql = (f"WITH {', '.join(ctes)}\nSELECT c.contact_id\nFROM contacts c{joins}\n"
           f"WHERE coalesce(c.signup_at, c.created_at) <= $as_of\n  AND {where}{excluded}")
    return Compiled(sql, ctx.params, len(ctx.conditions))
