"""The rule language: what it accepts, what it refuses (with the place), the builder and
the data form round trip."""

from __future__ import annotations

from datetime import date

import pytest

from workbench.audience import rules as R
from workbench.audience.compile import Definition
from workbench.errors import ConfigError


@pytest.mark.parametrize("rule", [
    {"all": [{"attribute": "age", "gte": 18}, {"any": [{"list": "newsletter"}, {"not": {"tier": "inactive"}}]}]},
    {"attribute": "signup_at", "between": ["2026-01-01", "-30d"]},
    {"attribute": "birth_date", "after": "1990-05-01"},
    {"attribute": "attributes.loyalty", "in": ["gold", "silver"]},
    {"engagement": "clicked", "within_days": 90, "older_than_days": 7, "campaign": ["news-*"], "stream": "newsletter",
     "min_count": 2, "include_machine": True},
    {"segment": "paris_25_34"},
    {"list": "promotions", "status": "unsubscribed"},
])
def test_round_trip(rule: dict) -> None:
    parsed = R.parse_rule(rule)
    assert R.parse_rule(parsed.to_dict()) == parsed


@pytest.mark.parametrize(("rule", "message"), [
    ({}, "a rule is a mapping"),
    ([], "a rule is a mapping"),
    ({"all": {"attribute": "age"}}, "all takes a list"),
    ({"all": [], "any": []}, "all takes a list of rules and nothing beside it"),
    ({"not": {"attribute": "age", "gt": 1}, "x": 1}, "not takes one rule"),
    ({"attribute": "shoe_size", "equals": 42}, "unknown attribute 'shoe_size'"),
    ({"attribute": "attributes.$.x", "equals": 1}, "may not start with"),
    ({"attribute": "age", "gt": 1, "lt": 5}, "exactly one operator"),
    ({"attribute": "age", "like": "x"}, "exactly one operator"),
    ({"attribute": "age", "in": []}, "non-empty list"),
    ({"attribute": "age", "between": [1]}, "between needs"),
    ({"attribute": "age", "exists": "yes"}, "exists is true or false"),
    ({"attribute": "age", "within_days": 3}, "applies to dates"),
    ({"attribute": "signup_at", "within_days": -3}, "whole number ≥ 0"),
    ({"attribute": "signup_at", "after": "last tuesday"}, "not a date"),
    ({"attribute": "city", "contains": 3}, "needs text"),
    ({"attribute": "city", "equals": ["a", "b"]}, "needs one value"),
    ({"geo": {"planet": "earth"}}, "geo takes"),
    ({"list": "news", "status": "maybe"}, "subscribed / unsubscribed"),
    ({"engagement": "read"}, "unknown engagement 'read'"),
    ({"engagement": "opened", "within": 3}, "unknown engagement keys"),
    ({"engagement": "opened", "min_count": 0}, "min_count"),
    ({"tier": "dormant"}, "unknown tier"),
    ({"segment": "bad name!"}, "segment takes a segment name"),
    ({"colour": "blue"}, "unknown rule"),
])
def test_refusals_name_the_problem(rule: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        R.parse_rule(rule)


def test_errors_name_the_place() -> None:
    with pytest.raises(ConfigError, match=r"rule\.all\[1\]\.not: unknown attribute"):
        R.parse_rule({"all": [{"attribute": "age", "gt": 1}, {"not": {"attribute": "nope", "gt": 1}}]})


def test_definitions() -> None:
    d = Definition.from_dict({"name": "x", "description": "d", "list": "newsletter", "include_suppressed": True,
                              "rule": {"attribute": "age", "gt": 30}})
    assert Definition.from_dict(d.to_dict()) == d
    assert Definition.from_dict({"attribute": "age", "gt": 30}, "bare").rule == d.rule
    same = Definition.from_dict({**d.to_dict(), "description": "another"})
    assert same.sha256 == d.sha256  # the description does not change who is in
    assert Definition.from_dict({**d.to_dict(), "list": "alerts"}).sha256 != d.sha256
    for bad, message in (({"rule": {"all": []}}, "needs a name"), ({"name": "x y", "rule": {"all": []}}, "needs a name"),
                         ({"name": "x", "rule": {"all": []}, "colour": 1}, "unknown keys"),
                         ({"name": "x", "rule": {"all": []}, "include_suppressed": "yes"}, "true or false"),
                         ("text", "a mapping")):
        with pytest.raises(ConfigError, match=message):
            Definition.from_dict(bad)  # type: ignore[arg-type]


def test_builder() -> None:
    assert (R.attr("age") >= 18) == R.Attr("age", "gte", 18)
    assert (R.attr("age") < 18) == R.Attr("age", "lt", 18) and (R.attr("age") <= 1) == R.Attr("age", "lte", 1)
    assert (R.attr("age") > 1) == R.Attr("age", "gt", 1) and (R.attr("city") != "Lyon") == R.Attr("city", "not_equals", "Lyon")
    assert R.attr("country").isin(["FR", "BE"]) == R.Attr("country", "in", ("FR", "BE"))
    assert R.attr("age").exists() == R.Attr("age", "exists", True)
    assert R.attr("signup_at").op("within_days", 30) == R.Attr("signup_at", "within_days", 30)
    assert R.attr("birth_date").between("1990-01-01", "1999-12-31").value == (date(1990, 1, 1), date(1999, 12, 31))
    rule = R.all_(R.in_list("newsletter"), R.any_(R.clicked(within_days=7), R.engaged(within_days=30)), ~R.tier("inactive"))
    assert rule.to_dict() == {"all": [{"list": "newsletter"}, {"any": [{"engagement": "clicked", "within_days": 7},
                                                                       {"engagement": "engaged", "within_days": 30}]},
                                      {"not": {"tier": "inactive"}}]}
    assert R.segment("x") == R.SegmentRef("x")
    with pytest.raises(ConfigError, match="unknown engagement"):
        R.engagement("read")
    with pytest.raises(ConfigError, match="unknown attribute"):
        R.attr("nope") == 1  # noqa: B015
