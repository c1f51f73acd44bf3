"""KPIs by segment, tier and contact attribute; compositions; experiments on the planted world
(the 25–34-year-olds of Île-de-France click the newsletter 1.8× as often)."""

from __future__ import annotations

import polars as pl
import pytest
from audience_world import AS_OF, at, build

from workbench.analytics import composition, kpis, segment_kpis
from workbench.analytics.dimensions import DIMENSIONS
from workbench.analytics.segments import experiment
from workbench.audience import segments
from workbench.audience.compile import Definition
from workbench.errors import ConfigError
from workbench.store import Store


@pytest.fixture
def audience(store: Store) -> Store:
    return build(store)


def test_dimensions_are_registered() -> None:
    for name in ("segment", "tier", "country", "region", "language", "age_band", "signup_source"):
        assert name in DIMENSIONS


def test_kpis_by_contact_attributes(audience: Store) -> None:
    by_country = kpis(audience, by=["country"], start=at(-120), end=at(0))
    sent = dict(by_country.select("country", "sent").iter_rows())
    # C's message carries no contact id: it is tied to C by its recipient address
    assert sent == {"DE": 1, "FR": 5, None: 1}  # FR: A, B twice, E, F; None: D, whose country is unknown
    bands = dict(kpis(audience, by=["age_band"], start=at(-120), end=at(0)).select("age_band", "sent").iter_rows())
    assert bands == {"25–34": 4, "35–44": 1, "55–64": 1, None: 1}


def test_segment_kpis_over_time(audience: Store) -> None:
    segments.create(audience, Definition.from_dict({"name": "fr", "rule": {"attribute": "country", "equals": "FR"}}),
                    as_of=AS_OF, backfill_from=at(-120))
    weekly = segment_kpis(audience, ["fr"], by=["week"], start=at(-120), end=at(0))
    assert set(weekly["segment"].to_list()) == {"fr"}
    # A, B twice, E (mailed the day before its complaint suppressed it) and F (suppressed for
    # the newsletter only: still in the segment)
    assert int(weekly["sent"].sum()) == 5
    with pytest.raises(ConfigError, match="at least one segment"):
        segment_kpis(audience, [])


def test_composition(audience: Store) -> None:
    segments.create(audience, Definition.from_dict({"name": "young", "rule": {"attribute": "age", "between": [25, 34]}}),
                    as_of=AS_OF)
    comp = composition(audience, "young", "region")
    assert comp.select("value", "members").rows() == [("Île-de-France", 2)]
    assert comp["share"].to_list() == [1.0]
    assert comp["index"][0] == pytest.approx(1.0 / (4 / 8))
    base = composition(audience, None, "country", top=2)
    assert base["value"].to_list() == ["FR", "(unknown)", "(other)"] or base["members"].sum() == 8
    assert int(base["members"].sum()) == 8 and len(base) == 3
    with pytest.raises(ConfigError, match="unknown attribute"):
        composition(audience, "young", "shoe_size")


def test_planted_effect_is_found(planted_world: Store) -> None:
    result = experiment(planted_world, ["others", "paris_25_34"], "human_click_rate", where={"stream": "newsletter"})
    row = result.comparisons.row(0, named=True)
    assert row["group"] == "paris_25_34" and row["significant"] and row["difference"] > 0
    assert 1.4 < row["rate"] / row["control_rate"] < 2.3  # planted: 1.8× the clicks
    # each contact got ~26 newsletters: the test counts contacts, not messages, as the units
    assert row["test"] == "z (clustered)" and row["design_effect"] > 1.5
    assert row["p_adjusted"] < 0.01 and row["prob_better"] > 0.99
    assert "really higher" in result.verdict[0] and "design effect" in result.verdict[0]
    naive = experiment(planted_world, ["others", "paris_25_34"], "human_click_rate", where={"stream": "newsletter"},
                       cluster=False).comparisons.row(0, named=True)
    assert naive["test"] == "z" and naive["p_value"] < row["p_value"]  # counting messages overstates the evidence
    assert result.counts["group"].to_list() == ["others", "paris_25_34"]


def test_no_effect_where_none_was_planted(planted_world: Store) -> None:
    result = experiment(planted_world, ["website", "checkout"], "human_click_rate", where={"stream": "newsletter"})
    row = result.comparisons.row(0, named=True)
    assert not row["significant"]
    assert "no detectable difference" in result.verdict[0]
    # and the planted effect is on the newsletter only: promotions show none
    promo = experiment(planted_world, ["others", "paris_25_34"], "human_click_rate", where={"stream": "promotions"})
    assert not promo.comparisons["significant"][0]


def test_three_groups_and_corrections(planted_world: Store) -> None:
    result = experiment(planted_world, ["others", "paris_25_34", "website"], "human_click_rate",
                        where={"stream": "newsletter"}, correction="bh")
    assert result.comparisons["group"].to_list() == ["paris_25_34", "website"]
    assert result.comparisons["significant"].to_list() == [True, False]
    assert len(result.verdict) == 2


def test_experiment_errors(planted_world: Store) -> None:
    with pytest.raises(ConfigError, match="unknown metric"):
        experiment(planted_world, ["others", "paris_25_34"], "happiness")
    with pytest.raises(ConfigError, match="at least two"):
        experiment(planted_world, ["others"], "open_rate")
    with pytest.raises(ConfigError, match="no delivered messages for nobody"):
        experiment(planted_world, ["others", "nobody"], "open_rate")


def test_ab_variants_by_campaign(planted_world: Store) -> None:
    campaigns = planted_world.query("SELECT campaign_id FROM campaigns WHERE stream = 'newsletter' ORDER BY 1 LIMIT 2")
    a, b = campaigns["campaign_id"].to_list()
    result = experiment(planted_world, [a, b], "human_open_rate", by="campaign")
    assert result.by == "campaign" and result.counts["trials"].min() > 0  # type: ignore[operator]
    assert isinstance(result.comparisons, pl.DataFrame) and len(result.verdict) == 1
