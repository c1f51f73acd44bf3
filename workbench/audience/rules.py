"""Segment rules as data: a small language (YAML / JSON mappings) and a Python builder.

A rule is one mapping; they combine with ``all`` / ``any`` / ``not``::

    all:
      - {attribute: age, between: [25, 34]}
      - {geo: {country: FR, region: Île-de-France}}
      - {list: newsletter}                              # subscribed, not unsubscribed
      - {engagement: opened, within_days: 30}           # human opens only (no Apple MPP)
      - not: {engagement: clicked, within_days: 90, campaign: "promo-*"}
      - {attribute: signup_at, older_than_days: 30}     # dates relative to today (the as-of time)
      - {attribute: attributes.vip, equals: "yes"}      # an imported extra column
      - {tier: active_30}                               # an engagement tier
      - {segment: other-segment}                        # another stored segment's rule

Attribute operators: ``equals``, ``not_equals``, ``in``, ``not_in``, ``gt``, ``gte``, ``lt``,
``lte``, ``between`` ``[low, high]`` (both included), ``exists`` (true / false),
``contains``, ``starts_with``, ``ends_with``, and for dates ``after`` / ``before`` (a date,
or ``-30d`` relative to today), ``within_days`` and ``older_than_days``. Engagement kinds:
sent, delivered, opened, clicked, engaged (opened or clicked), bounced, complained,
unsubscribed; with ``within_days`` / ``older_than_days``, ``campaign`` (ids or ``*``
patterns), ``stream``, ``min_count`` (distinct messages) and ``include_machine``. ``all:
[]`` is everyone, ``any: []`` no one.

The builder makes the same rules::

    from workbench.audience.rules import attr, engaged, in_list
    rule = attr("age").between(25, 34) & (attr("region") == "Île-de-France") & opened(within_days=30)
    rule.to_dict()   # the data form, for a YAML file or the segments table

Rules are parsed into frozen dataclasses and compiled to SQL by
:mod:`workbench.audience.compile`; values are always bound parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from workbench.errors import ConfigError

__all__ = [
    "ATTRIBUTES",
    "ENGAGEMENT_KINDS",
    "OPERATORS",
    "All",
    "Any_",
    "Attr",
    "Engagement",
    "InList",
    "Not",
    "Rule",
    "SegmentRef",
    "Tier",
    "all_",
    "any_",
    "attr",
    "clicked",
    "engaged",
    "engagement",
    "in_list",
    "opened",
    "parse_rule",
    "segment",
    "tier",
    "tier_rule",
]

#: contact attributes a rule may compare (typed columns; ``attributes.<key>`` reads the JSON)
ATTRIBUTES: dict[str, str] = {
    "contact_id": "text", "email": "text", "email_domain": "text", "provider": "text", "is_role": "bool",
    "is_disposable": "bool", "first_name": "text", "last_name": "text", "age": "number", "birth_date": "date",
    "gender": "text", "country": "text", "region": "text", "city": "text", "postal_code": "text",
    "language": "text", "phone": "text", "signup_at": "time", "signup_source": "text", "created_at": "time",
    "updated_at": "time",
}
OPERATORS = ("equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "between", "exists", "contains",
             "starts_with", "ends_with", "after", "before", "within_days", "older_than_days")
ENGAGEMENT_KINDS: dict[str, tuple[str, ...]] = {
    "sent": ("injected",), "delivered": ("delivered",), "opened": ("opened",), "clicked": ("clicked",),
    "engaged": ("opened", "clicked"), "bounced": ("bounced",), "complained": ("complained",),
    "unsubscribed": ("unsubscribed",),
}
TIERS = ("active_30", "active_90", "at_risk", "inactive", "never_engaged", "new")
_RELATIVE = re.compile(r"^-(\d+)d$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


class _Ops:
    def __and__(self, other: Rule) -> All:
        return All((self, other))  # type: ignore[arg-type]

    def __or__(self, other: Rule) -> Any_:
        return Any_((self, other))  # type: ignore[arg-type]

    def __invert__(self) -> Not:
        return Not(self)  # type: ignore[arg-type]


@dataclass(frozen=True)
class All(_Ops):
    items: tuple[Rule, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"all": [i.to_dict() for i in self.items]}


@dataclass(frozen=True)
class Any_(_Ops):
    items: tuple[Rule, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"any": [i.to_dict() for i in self.items]}


@dataclass(frozen=True)
class Not(_Ops):
    item: Rule

    def to_dict(self) -> dict[str, Any]:
        return {"not": self.item.to_dict()}


@dataclass(frozen=True)
class Attr(_Ops):
    name: str
    op: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        return {"attribute": self.name, self.op: list(self.value) if isinstance(self.value, tuple) else self.value}


@dataclass(frozen=True)
class InList(_Ops):
    list_name: str
    status: str = "subscribed"

    def to_dict(self) -> dict[str, Any]:
        return {"list": self.list_name, **({"status": self.status} if self.status != "subscribed" else {})}


@dataclass(frozen=True)
class Engagement(_Ops):
    kind: str
    within_days: int | None = None
    older_than_days: int | None = None
    campaigns: tuple[str, ...] = ()
    stream: str | None = None
    min_count: int = 1
    include_machine: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"engagement": self.kind}
        for key in ("within_days", "older_than_days", "stream"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.campaigns:
            out["campaign"] = list(self.campaigns)
        if self.min_count != 1:
            out["min_count"] = self.min_count
        if self.include_machine:
            out["include_machine"] = True
        return out


@dataclass(frozen=True)
class Tier(_Ops):
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"tier": self.name}


@dataclass(frozen=True)
class SegmentRef(_Ops):
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"segment": self.name}


Rule = All | Any_ | Not | Attr | InList | Engagement | Tier | SegmentRef


def _days(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: days must be a whole number ≥ 0, not {value!r}")
    return value


def _when(value: Any, where: str) -> Any:
    if isinstance(value, (date, datetime)):
        return value
    if isinstance(value, str):
        if _RELATIVE.match(value.strip()):
            return value.strip()
        try:
            return datetime.fromisoformat(value) if ("T" in value or " " in value) else date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{where}: {value!r} is not a date (YYYY-MM-DD), a time, or -Nd (N days before today)")


def _attribute(node: Mapping[str, Any], where: str) -> Attr:
    name = node["attribute"]
    if not isinstance(name, str) or not (name in ATTRIBUTES or (name.startswith("attributes.") and len(name) > 11)):
        raise ConfigError(f"{where}: unknown attribute {name!r}; known: {', '.join(ATTRIBUTES)}, or attributes.<column>")
    if name.startswith("attributes.") and name[11:].startswith(("$", "/")):
        raise ConfigError(f"{where}: an attribute key may not start with $ or /")
    ops = [k for k in node if k != "attribute"]
    if len(ops) != 1 or ops[0] not in OPERATORS:
        raise ConfigError(f"{where}: an attribute rule needs exactly one operator of {', '.join(OPERATORS)}; got {ops}")
    op, value = ops[0], node[ops[0]]
    kind = ATTRIBUTES.get(name, "text")
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where}: {op} needs a non-empty list")
        value = tuple(value)
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise ConfigError(f"{where}: between needs [low, high]")
        value = tuple(_when(v, where) if kind in ("date", "time") else v for v in value)
    elif op == "exists":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: exists is true or false")
    elif op in ("within_days", "older_than_days"):
        if kind not in ("date", "time"):
            raise ConfigError(f"{where}: {op} applies to dates ({', '.join(k for k, v in ATTRIBUTES.items() if v in ('date', 'time'))})")
        value = _days(value, where)
    elif op in ("after", "before"):
        value = _when(value, where)
    elif op in ("contains", "starts_with", "ends_with"):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {op} needs text")
    elif isinstance(value, (list, dict)):
        raise ConfigError(f"{where}: {op} needs one value (use in / between for several)")
    return Attr(name, op, value)


def _engagement(node: Mapping[str, Any], where: str) -> Engagement:
    known = {"engagement", "within_days", "older_than_days", "campaign", "stream", "min_count", "include_machine"}
    extra = set(node) - known
    if extra:
        raise ConfigError(f"{where}: unknown engagement keys {sorted(extra)}; known: {sorted(known)}")
    kind = node["engagement"]
    if kind not in ENGAGEMENT_KINDS:
        raise ConfigError(f"{where}: unknown engagement {kind!r}; choose from {', '.join(ENGAGEMENT_KINDS)}")
    campaigns = node.get("campaign") or ()
    campaigns = (campaigns,) if isinstance(campaigns, str) else tuple(str(c) for c in campaigns)
    within = node.get("within_days")
    older = node.get("older_than_days")
    count = node.get("min_count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"{where}: min_count must be a whole number ≥ 1")
    return Engagement(kind, None if within is None else _days(within, where), None if older is None else _days(older, where),
                      campaigns, node.get("stream"), count, bool(node.get("include_machine", False)))


def parse_rule(node: Any, where: str = "rule") -> Rule:
    """A rule from its data form (a mapping as read from YAML or JSON).

    Raises
    ------
    ConfigError
        The rule is malformed; the message names the place (``rule.all[2].not``).
    """
    if isinstance(node, (All, Any_, Not, Attr, InList, Engagement, Tier, SegmentRef)):
        return node
    if not isinstance(node, Mapping) or not node:
        raise ConfigError(f"{where}: a rule is a mapping such as {{attribute: age, gte: 18}}, not {node!r}")
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        items = node[key]
        if len(node) != 1 or not isinstance(items, list):
            raise ConfigError(f"{where}: {key} takes a list of rules and nothing beside it")
        parsed = tuple(parse_rule(item, f"{where}.{key}[{i}]") for i, item in enumerate(items))
        return All(parsed) if key == "all" else Any_(parsed)
    if "not" in node:
        if len(node) != 1:
            raise ConfigError(f"{where}: not takes one rule and nothing beside it")
        return Not(parse_rule(node["not"], f"{where}.not"))
    if "attribute" in node:
        return _attribute(node, where)
    if "geo" in node:
        geo = node["geo"]
        if not isinstance(geo, Mapping) or not geo or set(geo) - {"country", "region", "city", "postal_code"}:
            raise ConfigError(f"{where}: geo takes country, region, city and postal_code")
        return All(tuple(Attr(k, "in", tuple(v) if isinstance(v, list) else (v,)) for k, v in geo.items()))
    if "list" in node:
        status = node.get("status", "subscribed")
        if status not in ("subscribed", "unsubscribed") or set(node) - {"list", "status"}:
            raise ConfigError(f"{where}: list takes a list name and status subscribed / unsubscribed")
        return InList(str(node["list"]), status)
    if "engagement" in node:
        return _engagement(node, where)
    if "tier" in node:
        if node["tier"] not in TIERS:
            raise ConfigError(f"{where}: unknown tier {node['tier']!r}; choose from {', '.join(TIERS)}")
        return Tier(node["tier"])
    if "segment" in node:
        if not isinstance(node["segment"], str) or not _NAME.match(node["segment"]):
            raise ConfigError(f"{where}: segment takes a segment name")
        return SegmentRef(node["segment"])
    raise ConfigError(f"{where}: unknown rule {sorted(node)}; use all, any, not, attribute, geo, list, engagement, tier or segment")


# -- the builder ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _AttrBuilder:
    name: str

    def _make(self, op: str, value: Any) -> Attr:
        node = {"attribute": self.name, op: list(value) if isinstance(value, tuple) else value}
        return _attribute(node, f"attr({self.name!r})")

    def __eq__(self, value: object) -> Attr:  # type: ignore[override]
        return self._make("equals", value)

    def __ne__(self, value: object) -> Attr:  # type: ignore[override]
        return self._make("not_equals", value)

    def __gt__(self, value: Any) -> Attr:
        return self._make("gt", value)

    def __ge__(self, value: Any) -> Attr:
        return self._make("gte", value)

    def __lt__(self, value: Any) -> Attr:
        return self._make("lt", value)

    def __le__(self, value: Any) -> Attr:
        return self._make("lte", value)

    def isin(self, values: Sequence[Any]) -> Attr:
        return self._make("in", list(values))

    def between(self, low: Any, high: Any) -> Attr:
        return self._make("between", [low, high])

    def exists(self, present: bool = True) -> Attr:
        return self._make("exists", present)

    def op(self, name: str, value: Any) -> Attr:
        """Any operator by name: ``attr("signup_at").op("within_days", 30)``."""
        return self._make(name, value)

    __hash__ = None  # type: ignore[assignment]


def attr(name: str) -> _AttrBuilder:
    """An attribute to compare: ``attr("age") >= 18``, ``attr("country").isin(["FR", "BE"])``."""
    return _AttrBuilder(name)


def all_(*rules: Rule) -> All:
    return All(tuple(rules))


def any_(*rules: Rule) -> Any_:
    return Any_(tuple(rules))


def engagement(kind: str, **options: Any) -> Engagement:
    """An engagement rule: ``engagement("opened", within_days=30, campaign="news-*")``.

    Raises
    ------
    ConfigError
        An unknown kind or option.
    """
    return _engagement({"engagement": kind, **options}, f"engagement({kind!r})")


def opened(**options: Any) -> Engagement:
    return engagement("opened", **options)


def clicked(**options: Any) -> Engagement:
    return engagement("clicked", **options)


def engaged(**options: Any) -> Engagement:
    return engagement("engaged", **options)


def in_list(name: str, status: str = "subscribed") -> InList:
    return InList(name, status)


def tier(name: str) -> Tier:
    return parse_rule({"tier": name})  # type: ignore[return-value]


def segment(name: str) -> SegmentRef:
    return SegmentRef(name)


#: the engagement tiers' day thresholds: active within 30 / 90 days, at risk up to 180,
#: inactive beyond; a contact never engaged whose first delivery is older than
#: ``NEW_DAYS`` is never_engaged, else new
ACTIVE_DAYS, ACTIVE_LONG_DAYS, AT_RISK_DAYS, NEW_DAYS = 30, 90, 180, 30


def tier_rule(name: str) -> Rule:
    """The rule of an engagement tier (human opens and clicks; machine opens excluded).

    ========================  =================================================================
    ``active_30``             engaged (opened or clicked) in the last 30 days
    ``active_90``             engaged 31–90 days ago, not since
    ``at_risk``               engaged 91–180 days ago, not since
    ``inactive``              engaged once, not in the last 180 days
    ``never_engaged``         never engaged, mailed (delivered) for more than 30 days
    ``new``                   never engaged, first delivery less than 30 days ago or none yet
    ========================  =================================================================

    Raises
    ------
    ConfigError
        Not a tier name.
    """
    eng = Engagement("engaged")
    if name == "active_30":
        return Engagement("engaged", within_days=ACTIVE_DAYS)
    if name == "active_90":
        return All((Engagement("engaged", within_days=ACTIVE_LONG_DAYS), Not(Engagement("engaged", within_days=ACTIVE_DAYS))))
    if name == "at_risk":
        return All((Engagement("engaged", within_days=AT_RISK_DAYS), Not(Engagement("engaged", within_days=ACTIVE_LONG_DAYS))))
    if name == "inactive":
        return All((eng, Not(Engagement("engaged", within_days=AT_RISK_DAYS))))
    mailed_long_ago = Engagement("delivered", older_than_days=NEW_DAYS)
    if name == "never_engaged":
        return All((Not(eng), mailed_long_ago))
    if name == "new":
        return All((Not(eng), Not(mailed_long_ago)))
    raise ConfigError(f"unknown tier {name!r}; choose from {', '.join(TIERS)}")
