"""Engagement tiers and the sunset recommendation on the hand-built audience."""

from __future__ import annotations

from datetime import timedelta

import pytest
from audience_world import AS_OF, at, build

from workbench.analytics import kpis
from workbench.audience import segments
from workbench.audience.compile import Definition
from workbench.audience.rules import TIERS, All, tier_rule
from workbench.audience.tiers import RECOMMENDATIONS, materialise_tiers, sunset, tier_sizes
from workbench.errors import ConfigError
from workbench.store import Store


@pytest.fixture
def audience(store: Store) -> Store:
    return build(store)


def test_tier_sizes(audience: Store) -> None:
    sizes = dict(tier_sizes(audience, AS_OF).select("tier", "contacts").iter_rows())
    assert sizes == {"active_30": 3, "active_90": 1, "at_risk": 1, "inactive": 0, "never_engaged": 1, "new": 0}
    with_suppressed = dict(tier_sizes(audience, AS_OF, include_suppressed=True).select("tier", "contacts").iter_rows())
    assert with_suppressed["active_30"] == 4  # E opened three days before AS_OF, but complained since
    frame = tier_sizes(audience, AS_OF)
    assert frame["share"].sum() == pytest.approx(1.0)
    assert frame.filter(frame["tier"] == "inactive")["recommendation"][0].startswith("sunset")


def test_tiers_partition_the_base(audience: Store) -> None:
    """Every contact of the base is in exactly one tier, at any time."""
    for when in (AS_OF, AS_OF - timedelta(days=50), AS_OF + timedelta(days=200)):
        everyone = set(segments.evaluate(audience, Definition("all", All()), when)["contact_id"])
        seen: list[str] = []
        for name in TIERS:
            seen += segments.evaluate(audience, Definition(name, tier_rule(name)), when)["contact_id"].to_list()
        assert sorted(seen) == sorted(everyone)
    with pytest.raises(ConfigError, match="unknown tier"):
        tier_rule("dormant")
    assert set(RECOMMENDATIONS) == set(TIERS)


def test_tiers_later_on(audience: Store) -> None:
    # 200 days on: everyone who engaged is inactive (more than 180 days), D still never engaged
    later = dict(tier_sizes(audience, AS_OF + timedelta(days=200)).select("tier", "contacts").iter_rows())
    assert later["inactive"] == 5 and later["never_engaged"] == 1  # A, B, C, F, H; D; G signed up meanwhile: new
    assert later["new"] == 1


def test_materialised_tiers_slice_kpis(audience: Store) -> None:
    sizes = materialise_tiers(audience, as_of=AS_OF, backfill_from=at(-120), every_days=7)
    assert dict(sizes.select("tier", "contacts").iter_rows())["active_30"] == 3
    assert set(segments.list_segments(audience)["name"]) == {f"tier:{t}" for t in TIERS}
    by_tier = dict(kpis(audience, by=["tier"], start=at(-120), end=at(0)).select("tier", "sent").iter_rows())
    # the tier of the last run before each send: B's day -10 send found B active_90 (opened on
    # day -60); every other send (F -100, B -60, D -40, A -10, C -5, E -3) went to a contact
    # with no engagement and no delivery older than 30 days yet: new
    assert by_tier == {"active_90": 1, "new": 6}


def test_sunset_candidates(audience: Store) -> None:
    out = sunset(audience, AS_OF, min_deliveries=1)
    assert out.select("contact_id", "tier", "action").rows() == [("D", "never_engaged", "sunset"), ("F", "at_risk", "re-engage")]
    d = out.row(0, named=True)
    assert (d["email"], d["delivered"], d["delivered_recent"], d["last_engaged"]) == ("d@x.example", 1, 0, None)
    f = out.row(1, named=True)
    assert f["last_engaged"] == at(-100, 2)
    assert sunset(audience, AS_OF).filter(sunset(audience, AS_OF)["tier"] == "never_engaged").is_empty()  # 1 < 5 deliveries
    assert sunset(audience, AS_OF - timedelta(days=365)).is_empty()
