"""Segment definitions and their SQL (workbench.audience.compile): the operators of every
attribute kind (typed columns, booleans, dates, the JSON of extra columns), what the query
scans, and the definition's data form and hash."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from audience_world import AS_OF, build

from workbench.audience import segments
from workbench.audience.compile import Definition, compile_definition
from workbench.audience.directory import import_contacts
from workbench.errors import ConfigError
from workbench.store import Store

#: three more contacts: a role account, a disposable address, extra columns (score, plan)
EXTRA = pl.DataFrame({
    "contact_id": ["R", "P", "Q"],
    "email": ["info@y.example", "p@mailinator.com", "Q@Y.example"],
    "score": ["7", "12", "x"],
    "plan": ["Gold", "silver", None],
    "birth_date": ["1990-05-02", "1985-01-01", ""],
    "gender": ["F", "m", ""],
})


@pytest.fixture
def audience(store: Store) -> Store:
    build(store)
    report = import_contacts(store, EXTRA, as_of=datetime(2026, 1, 1), source="extra")
    assert report.rejected == 0, report.rejects
    return store


def members(store: Store, rule: object, **options: object) -> set[str]:
    definition = Definition.from_dict({"name": "t", "rule": rule, **options})
    return set(segments.evaluate(store, definition, AS_OF)["contact_id"].to_list())


CASES = [
    # the JSON of extra columns: numbers compare as numbers (text that is no number is unknown)
    ({"attribute": "attributes.score", "gt": 5}, {"R", "P"}),
    ({"attribute": "attributes.score", "between": [1, 10]}, {"R"}),
    ({"attribute": "attributes.score", "equals": 12}, {"P"}),
    ({"attribute": "attributes.score", "equals": "x"}, {"Q"}),
    ({"not": {"attribute": "attributes.score", "gt": 5}}, {"A", "B", "C", "D", "F", "H", "Q"}),
    ({"attribute": "attributes.plan", "in": ["gold", "SILVER"]}, {"R", "P"}),
    ({"attribute": "attributes.plan", "exists": False}, {"A", "B", "C", "D", "F", "H", "Q"}),
    # booleans: the address flags
    ({"attribute": "is_role", "equals": True}, {"R"}),
    ({"attribute": "is_disposable", "equals": True}, {"P"}),
    ({"attribute": "is_disposable", "not_equals": True}, {"A", "B", "C", "D", "F", "H", "R", "Q"}),
    # dates (birth_date) and times (signup_at) by absolute and relative bounds
    ({"attribute": "birth_date", "before": "1989-01-01"}, {"P"}),
    ({"attribute": "birth_date", "between": ["1980-01-01", "1986-01-01"]}, {"P"}),
    ({"attribute": "birth_date", "gte": "1990-05-02"}, {"R"}),
    ({"attribute": "birth_date", "equals": "1990-05-02"}, {"R"}),
    ({"attribute": "signup_at", "between": ["2025-06-01", "-1d"]}, {"A"}),
    ({"attribute": "signup_at", "after": "2026-04-30T12:00:00"}, {"A"}),
    # text compares case-insensitively, in every operator
    ({"attribute": "gender", "in": ["f"]}, {"R"}),
    ({"attribute": "region", "contains": "FRANCE"}, {"A", "B"}),
    ({"attribute": "country", "not_in": ["fr"]}, {"C", "H"}),
    ({"attribute": "email_domain", "equals": "Y.EXAMPLE"}, {"R", "Q"}),
    ({"attribute": "email", "equals": "q@y.example"}, {"Q"}),
    ({"attribute": "city", "exists": True}, set()),
    # numbers
    ({"attribute": "age", "lte": 25}, {"B"}),
    ({"attribute": "age", "not_equals": 40}, {"A", "B", "F", "H"}),  # D, R, P, Q: no age, neither in nor out
]


@pytest.mark.parametrize(("rule", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_attribute_operators(audience: Store, rule: dict, expected: set[str]) -> None:
    assert members(audience, rule) == expected


@pytest.mark.parametrize(("rule", "message"), [
    ({"attribute": "is_role", "gt": 1}, "compare with equals: true / false"),
    ({"attribute": "is_role", "equals": "yes"}, "compare with equals: true / false"),
    ({"attribute": "age", "contains": "3"}, "contains applies to text"),
    ({"attribute": "age", "equals": "abc"}, "'abc' is not a number"),
    ({"attribute": "age", "in": [20, "thirty"]}, "'thirty' is not a number"),
    ({"attribute": "age", "after": "2026-01-01"}, "after applies to dates only"),
    ({"attribute": "birth_date", "contains": "19"}, "contains does not apply to a date"),
])
def test_operators_that_do_not_fit_the_attribute(audience: Store, rule: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        members(audience, rule)


def _compiled(rule: object, **options: object) -> str:
    return compile_definition(Definition.from_dict({"name": "t", "rule": rule, **options}), AS_OF).sql


def test_attribute_rules_do_not_scan_events() -> None:
    sql = _compiled({"all": [{"attribute": "age", "gt": 3}, {"list": "newsletter"}]})
    assert "FROM events" not in sql and "provider_domains" not in sql
    assert "provider_domains" in _compiled({"attribute": "provider", "equals": "gmail"})


def test_engagement_is_one_scan_bounded_by_the_widest_window() -> None:
    definition = Definition.from_dict({"name": "t", "rule": {"all": [
        {"engagement": "opened", "within_days": 30}, {"not": {"engagement": "clicked", "within_days": 90}}]}})
    compiled = compile_definition(definition, AS_OF)
    assert compiled.engagement == 2 and compiled.sql.count("FROM events") == 1
    scan = compiled.sql.split("FROM events", 1)[1].split("\n", 1)[0]
    bounds = [compiled.params[k] for k in compiled.params if f"ts >= ${k}" in scan]
    assert bounds == [AS_OF - timedelta(days=90)] and "ts < $as_of" in scan
    unbounded = compile_definition(Definition.from_dict({"name": "t", "rule": {"all": [
        {"engagement": "opened", "within_days": 30}, {"engagement": "clicked"}]}}), AS_OF)
    scan = unbounded.sql.split("FROM events", 1)[1].split("\n", 1)[0]
    assert "ts >=" not in scan and "ts < $as_of" in scan


def test_min_count_counts_distinct_messages(audience: Store) -> None:
    # B has two deliveries (two messages); A one delivery plus opens and clicks of it
    assert members(audience, {"engagement": "delivered", "min_count": 2}) == {"B"}
    assert members(audience, {"engagement": "engaged", "min_count": 2}) == set()  # A's open and click: one message
    assert members(audience, {"engagement": "sent", "min_count": 1}) == {"A", "B", "C", "D", "F"}


def test_the_list_option_and_suppressions_are_bound() -> None:
    sql = _compiled({"all": []}, list="newsletter")
    assert "newsletter" not in sql and "scope = $" in sql
    assert "supp WHERE scope = 'global'" in _compiled({"all": []})
    assert "supp WHERE scope" not in _compiled({"all": []}, include_suppressed=True).split("SELECT c.contact_id", 1)[1]


def test_as_of_is_the_only_clock() -> None:
    definition = Definition.from_dict({"name": "t", "rule": {"attribute": "signup_at", "within_days": 10}})
    early, late = compile_definition(definition, datetime(2026, 1, 1)), compile_definition(definition, datetime(2026, 2, 1))
    assert early.sql == late.sql
    assert early.params["as_of"] == datetime(2026, 1, 1) and datetime(2025, 12, 22) in early.params.values()
    assert datetime(2026, 1, 22) in late.params.values()
    dated = compile_definition(Definition.from_dict({"name": "t", "rule": {"attribute": "birth_date", "within_days": 1}}),
                               datetime(2026, 1, 1, 18))
    assert date(2025, 12, 31) in dated.params.values()


def test_definition_data_form_and_hash() -> None:
    data = {"name": "young", "description": "25 to 34", "list": "newsletter",
            "rule": {"attribute": "age", "between": [25, 34]}}
    young = Definition.from_dict(data)
    assert young.to_dict() == data
    assert Definition.from_dict(young.to_dict()) == young
    # the description does not change membership, so not the hash; the rest does
    assert Definition.from_dict({**data, "description": "other words"}).sha256 == young.sha256
    assert Definition.from_dict({**data, "list": "alerts"}).sha256 != young.sha256
    assert Definition.from_dict({**data, "include_suppressed": True}).sha256 != young.sha256
    assert Definition.from_dict({**data, "rule": {"attribute": "age", "between": [25, 35]}}).sha256 != young.sha256
    # a bare rule, named from outside
    assert Definition.from_dict({"attribute": "age", "gte": 18}, "adults").name == "adults"


@pytest.mark.parametrize(("data", "name", "message"), [
    ({"rule": {"all": []}}, None, "needs a name"),
    ({"rule": {"all": []}}, "no spaces allowed", "needs a name"),
    ({"name": "x", "rule": {"all": []}, "colour": "red"}, None, "unknown keys"),
    ({"name": "x", "rule": {"all": []}, "include_suppressed": "yes"}, None, "true or false"),
    (["not", "a", "mapping"], "x", "is a mapping"),
])
def test_definition_refusals(data: object, name: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Definition.from_dict(data, name)  # type: ignore[arg-type]
