"""Segment rules compiled to SQL return exactly the expected members of a hand-built
audience (tests/audience_world.py): attributes, engagement windows, suppression, lists,
empty and contradictory rules; materialised membership over time; the KPI slice."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from audience_world import AS_OF, at, build

from workbench.analytics import kpis
from workbench.audience import segments
from workbench.audience.compile import Definition, compile_definition, load_definition
from workbench.audience.rules import attr, opened
from workbench.errors import ConfigError
from workbench.store import Store

EVERYONE = {"A", "B", "C", "D", "F", "H"}  # in the base as of AS_OF, not suppressed (E is; G signs up later)


@pytest.fixture
def audience(store: Store) -> Store:
    return build(store)


def members(store: Store, rule: object, *, as_of: datetime = AS_OF, **options: object) -> set[str]:
    definition = Definition.from_dict({"name": "t", "rule": rule, **options})
    return set(segments.evaluate(store, definition, as_of)["contact_id"].to_list())


CASES = [
    # attributes
    ({"attribute": "age", "between": [25, 34]}, {"A", "B"}),
    ({"all": [{"attribute": "age", "between": [25, 34]}, {"geo": {"region": "île-de-france"}}]}, {"A", "B"}),
    ({"not": {"attribute": "age", "between": [25, 34]}}, {"C", "D", "F", "H"}),  # D: unknown age is in the complement
    ({"attribute": "age", "gt": 50}, {"F"}),
    ({"attribute": "age", "exists": False}, {"D"}),
    ({"attribute": "country", "in": ["DE", "GB"]}, {"C", "H"}),
    ({"attribute": "country", "not_equals": "FR"}, {"C", "H"}),
    ({"attribute": "region", "starts_with": "île"}, {"A", "B"}),
    ({"attribute": "email", "ends_with": "@gmail.com"}, {"H"}),
    ({"attribute": "provider", "equals": "gmail"}, {"H"}),
    ({"attribute": "attributes.vip", "equals": "yes"}, {"A"}),
    ({"attribute": "attributes.vip", "exists": True}, {"A", "H"}),
    ({"attribute": "signup_at", "within_days": 60}, {"A"}),
    ({"attribute": "signup_at", "older_than_days": 60}, {"B", "C", "D", "F", "H"}),
    ({"attribute": "signup_at", "after": "-45d"}, {"A"}),
    ({"attribute": "signup_at", "before": "2026-01-01"}, {"B", "C", "D", "F", "H"}),
    # empty and contradictory rules
    ({"all": []}, EVERYONE),
    ({"any": []}, set()),
    ({"all": [{"attribute": "age", "gt": 50}, {"attribute": "age", "lt": 20}]}, set()),
    ({"all": [{"attribute": "age", "between": [25, 34]}, {"not": {"attribute": "age", "between": [25, 34]}}]}, set()),
    ({"any": [{"attribute": "country", "equals": "DE"}, {"attribute": "country", "equals": "GB"}]}, {"C", "H"}),
    # lists (F unsubscribed from the newsletter through a list suppression)
    ({"list": "newsletter"}, {"A", "B"}),
    ({"list": "promotions"}, {"B", "C"}),
    ({"list": "newsletter", "status": "unsubscribed"}, {"F"}),
    # engagement: human opens only; C by recipient address; H by address despite a foreign id;
    # the open after AS_OF never counts
    ({"engagement": "opened", "within_days": 30}, {"A", "C", "H"}),
    ({"engagement": "opened", "within_days": 30, "include_machine": True}, {"A", "B", "C", "H"}),
    ({"engagement": "opened", "within_days": 90}, {"A", "B", "C", "H"}),
    ({"not": {"engagement": "opened", "within_days": 30}}, {"B", "D", "F"}),
    ({"engagement": "clicked"}, {"A", "F"}),
    ({"engagement": "clicked", "campaign": "news-*"}, {"A", "F"}),
    ({"engagement": "clicked", "campaign": ["news-1"]}, {"A"}),
    ({"engagement": "clicked", "campaign": "news-?"}, {"A", "F"}),
    ({"engagement": "delivered", "stream": "promotions"}, {"C"}),
    ({"engagement": "delivered", "min_count": 2}, {"B"}),
    ({"engagement": "delivered", "older_than_days": 30}, {"B", "D", "F"}),
    ({"engagement": "delivered", "within_days": 50, "older_than_days": 30}, {"D"}),
    ({"engagement": "engaged", "within_days": 30}, {"A", "C", "H"}),
    ({"engagement": "complained"}, set()),
    # tiers
    ({"tier": "active_30"}, {"A", "C", "H"}),
    ({"tier": "active_90"}, {"B"}),
    ({"tier": "at_risk"}, {"F"}),
    ({"tier": "inactive"}, set()),
    ({"tier": "never_engaged"}, {"D"}),
    ({"tier": "new"}, set()),
    # the question of the issue, on this audience
    ({"all": [{"attribute": "age", "between": [25, 34]}, {"geo": {"region": "Île-de-France"}},
              {"engagement": "opened", "within_days": 30}]}, {"A"}),
]


@pytest.mark.parametrize(("rule", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_rule_members(audience: Store, rule: dict, expected: set[str]) -> None:
    assert members(audience, rule) == expected


def test_suppressed_contacts_only_when_asked(audience: Store) -> None:
    young = {"attribute": "age", "between": [25, 34]}
    assert members(audience, young) == {"A", "B"}
    assert members(audience, young, include_suppressed=True) == {"A", "B", "E"}
    # a list audience leaves out the list's own suppressions too
    assert members(audience, {"all": []}, list="newsletter") == {"A", "B"}
    assert members(audience, {"all": []}, list="newsletter", include_suppressed=True) == {"A", "B", "E"}


def test_membership_as_of_an_earlier_time(audience: Store) -> None:
    # D's hard bounce was suppressed in March and lifted in April; A signed up in May
    assert "D" not in members(audience, {"all": []}, as_of=datetime(2026, 3, 15))
    assert "D" in members(audience, {"all": []}, as_of=datetime(2026, 4, 15))
    assert "A" not in members(audience, {"all": []}, as_of=datetime(2026, 4, 15))
    # E's complaint came two days before AS_OF: a week earlier E was in, and had not opened yet
    week_before = AS_OF - timedelta(days=7)
    assert "E" in members(audience, {"all": []}, as_of=week_before)
    assert members(audience, {"engagement": "opened", "within_days": 30}, as_of=week_before) == {"A"}


def test_segment_references_and_cycles(audience: Store) -> None:
    segments.save(audience, Definition.from_dict({"name": "young", "rule": {"attribute": "age", "between": [25, 34]}}))
    assert members(audience, {"segment": "young"}) == {"A", "B"}
    assert members(audience, {"not": {"segment": "young"}}) == EVERYONE - {"A", "B"}
    saved = {"loop-a": Definition.from_dict({"name": "loop-a", "rule": {"segment": "loop-b"}}),
             "loop-b": Definition.from_dict({"name": "loop-b", "rule": {"not": {"segment": "loop-a"}}})}
    with pytest.raises(ConfigError, match="refers to itself"):
        compile_definition(saved["loop-a"], AS_OF, saved.__getitem__)
    with pytest.raises(ConfigError, match="no stored segments"):
        compile_definition(saved["loop-a"], AS_OF)
    with pytest.raises(ConfigError, match="no segment named 'nope'"):
        members(audience, {"segment": "nope"})


def test_values_are_bound_parameters_never_sql(audience: Store) -> None:
    evil = "x'); DROP TABLE contacts; --"
    definition = Definition.from_dict({"name": "evil", "rule": {"any": [
        {"attribute": "region", "equals": evil}, {"attribute": f"attributes.{evil}", "equals": evil},
        {"engagement": "opened", "campaign": [evil, evil + "*"], "stream": evil}]}})
    compiled = compile_definition(definition, AS_OF)
    assert evil not in compiled.sql
    assert evil in compiled.params.values()
    assert segments.evaluate(audience, definition, AS_OF).is_empty()
    assert audience.scalar("SELECT count(*) FROM contacts") == 8


def test_builder_makes_the_same_rules(audience: Store) -> None:
    rule = (attr("age").between(25, 34)) & (attr("region") == "Île-de-France") & opened(within_days=30)
    data = Definition("b", rule).to_dict()["rule"]
    assert Definition.from_dict({"name": "c", "rule": data}).rule == rule
    assert members(audience, data) == {"A"}
    assert members(audience, (~opened(within_days=30)).to_dict()) == {"B", "D", "F"}
    assert members(audience, ((attr("country") == "DE") | (attr("age") >= 60)).to_dict()) == {"C", "F"}


def test_rule_files(tmp_path: Path, audience: Store) -> None:
    (tmp_path / "young.yaml").write_text("description: 25 to 34\nlist: newsletter\nrule:\n  attribute: age\n  between: [25, 34]\n")
    (tmp_path / "bare.json").write_text('{"engagement": "opened", "within_days": 30}')
    young = load_definition(tmp_path / "young.yaml")
    assert (young.name, young.description, young.list_name) == ("young", "25 to 34", "newsletter")
    assert set(segments.evaluate(audience, young, AS_OF)["contact_id"]) == {"A", "B"}
    bare = load_definition(tmp_path / "bare.json", "openers")
    assert bare.name == "openers" and set(segments.evaluate(audience, bare, AS_OF)["contact_id"]) == {"A", "C", "H"}
    with pytest.raises(ConfigError, match="no rule file"):
        load_definition(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("rule: [unclosed\n")
    with pytest.raises(ConfigError, match="not YAML"):
        load_definition(tmp_path / "bad.yaml")


def test_materialised_membership_over_time(audience: Store) -> None:
    openers = Definition.from_dict({"name": "openers", "rule": {"engagement": "opened", "within_days": 30}})
    first = segments.create(audience, openers, as_of=AS_OF)
    assert (first.size, first.joined, first.left) == (3, 3, 0)
    # 29 days later C's open (34 days old) no longer counts; H's (30 days) and A's second one do
    later = segments.materialise(audience, "openers", AS_OF + timedelta(days=29))
    assert (later.size, later.joined, later.left) == (2, 0, 1)
    rows = audience.query("SELECT contact_id, valid_from, valid_to FROM segment_members WHERE segment = 'openers' "
                          "ORDER BY contact_id")
    assert rows.to_dicts() == [
        {"contact_id": "A", "valid_from": AS_OF, "valid_to": None},
        {"contact_id": "C", "valid_from": AS_OF, "valid_to": AS_OF + timedelta(days=29)},
        {"contact_id": "H", "valid_from": AS_OF, "valid_to": None},
    ]
    assert set(segments.members(audience, "openers", AS_OF)["contact_id"]) == {"A", "C", "H"}
    assert set(segments.members(audience, "openers")["contact_id"]) == {"A", "H"}
    # another 10 days: nobody opened since, everyone leaves
    gone = segments.materialise(audience, "openers", AS_OF + timedelta(days=39))
    assert (gone.size, gone.joined, gone.left) == (0, 0, 2)
    assert segments.runs(audience, "openers")["size"].to_list() == [3, 2, 0]
    with pytest.raises(ConfigError, match="runs go forward in time"):
        segments.materialise(audience, "openers", AS_OF)
    rebuilt = segments.materialise(audience, "openers", AS_OF, rebuild=True)
    assert rebuilt.joined == 3 and segments.runs(audience, "openers")["size"].to_list() == [3]
    listed = segments.list_segments(audience)
    assert listed.select("name", "size", "runs").to_dicts() == [{"name": "openers", "size": 3, "runs": 1}]


def test_backfill_and_kpis_by_segment_at_send_time(audience: Store) -> None:
    young = Definition.from_dict({"name": "young", "rule": {"attribute": "age", "between": [25, 34]}})
    segments.save(audience, young)
    runs = segments.backfill(audience, "young", AS_OF - timedelta(days=70), AS_OF)
    assert runs[0].as_of == AS_OF - timedelta(days=70) and runs[-1].as_of == AS_OF
    # A signed up on May 1: a member from the first run after it, B all along
    spans = dict(audience.query("SELECT contact_id, valid_from FROM segment_members WHERE segment = 'young'").iter_rows())
    assert spans["B"] == AS_OF - timedelta(days=70) and spans["A"] == datetime(2026, 5, 4)
    k = kpis(audience, by=["segment"], start=at(-120), end=at(0), where={"segment": ["young"]})
    # B's two messages (day -60, day -10), A's (day -10) and E's (day -3: E's complaint, two
    # days before AS_OF, took E out of the segment only after that send) were sent to members
    assert k.select("segment", "sent", "delivered", "human_unique_opens", "human_unique_clicks").to_dicts() == [
        {"segment": "young", "sent": 4, "delivered": 4, "human_unique_opens": 3, "human_unique_clicks": 1}]
    assert audience.query("SELECT valid_to FROM segment_members WHERE segment = 'young' AND contact_id = 'E'")["valid_to"][0] == AS_OF
    everything = kpis(audience, by=["segment"], start=at(-120), end=at(0))
    assert int(everything["sent"].sum()) == int(kpis(audience, start=at(-120), end=at(0))["sent"][0])
    # a segment materialised only now slices nothing sent before
    segments.create(audience, Definition.from_dict({"name": "late", "rule": {"all": []}}), as_of=AS_OF)
    assert kpis(audience, by=["segment"], start=at(-120), end=at(0), where={"segment": "late"}).is_empty()


def test_export_members_and_delete(audience: Store, tmp_path: Path) -> None:
    segments.create(audience, Definition.from_dict({"name": "fr", "rule": {"attribute": "country", "equals": "FR"}}), as_of=AS_OF)
    assert segments.export(audience, "fr", tmp_path / "fr.csv") == 3
    assert pl.read_csv(tmp_path / "fr.csv")["email"].to_list() == ["a@x.example", "b@x.example", "f@x.example"]
    assert segments.export(audience, "fr", tmp_path / "fr.parquet") == 3
    with pytest.raises(ConfigError, match=r"csv or \.parquet"):
        segments.export(audience, "fr", tmp_path / "fr.xlsx")
    assert segments.size(audience, "fr", AS_OF) == 3
    assert segments.delete(audience, "fr") and not segments.delete(audience, "fr")
    assert audience.scalar("SELECT count(*) FROM segment_members WHERE segment = 'fr'") == 0


def test_ensure_materialises_only_when_needed(audience: Store) -> None:
    rule = {"attribute": "country", "equals": "FR"}
    segments.ensure(audience, "fr", rule, backfill_from=AS_OF - timedelta(days=14), end=AS_OF)
    assert len(segments.runs(audience, "fr")) == 3
    segments.ensure(audience, "fr", rule, backfill_from=AS_OF - timedelta(days=7), end=AS_OF)
    assert len(segments.runs(audience, "fr")) == 3  # unchanged: nothing to do
    segments.ensure(audience, "fr", {"attribute": "country", "equals": "DE"}, backfill_from=AS_OF - timedelta(days=7), end=AS_OF)
    assert segments.runs(audience, "fr")["size"].to_list() == [1, 1]
    assert segments.ensure(audience, "fr").rule == Definition.from_dict({"name": "fr", "rule": {"attribute": "country", "equals": "DE"}}).rule
    with pytest.raises(ConfigError, match="no segment named"):
        segments.ensure(audience, "unknown")


def test_an_empty_store_has_empty_segments(store: Store) -> None:
    assert segments.size(store, Definition.from_dict({"name": "x", "rule": {"engagement": "opened", "within_days": 7}})) == 0
    run = segments.create(store, Definition.from_dict({"name": "all", "rule": {"all": []}}))
    assert (run.size, run.joined, run.left) == (0, 0, 0)


def test_a_contact_imported_this_very_moment_is_in_a_segment_evaluated_now(store: Store) -> None:
    from workbench.audience.directory import import_contacts

    import_contacts(store, pl.DataFrame({"email": ["new@gmail.com"], "age": [30]}))  # as of now, to the microsecond
    definition = Definition.from_dict({"name": "t", "rule": {"attribute": "age", "between": [25, 34]}})
    assert segments.evaluate(store, definition)["contact_id"].len() == 1
