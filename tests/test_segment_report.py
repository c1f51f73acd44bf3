"""What the segment notebooks call (workbench.analytics.segment_report): a segment prepared
over a report window, and its KPIs against all mail, on the hand-built audience."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from audience_world import build

from workbench.analytics import segment_report as sr
from workbench.audience import segments
from workbench.errors import ConfigError
from workbench.store import Store

FR = {"attribute": "country", "equals": "FR"}


@pytest.fixture
def audience(store: Store) -> Store:
    return build(store)


def test_prepare_materialises_the_window_once(audience: Store) -> None:
    first, last = sr.prepare(audience, "fr", FR, days=30, end="2026-05-31")
    assert (first, last) == (date(2026, 5, 2), date(2026, 5, 31))
    runs = segments.runs(audience, "fr")
    # weekly from the first day, and a last run as of the end of the window
    assert runs["as_of"].to_list() == [datetime(2026, 5, d) for d in (2, 9, 16, 23, 30)] + [datetime(2026, 6, 1)]
    # A, B, E and F are French; E's complaint on May 30 took E out
    assert runs["size"].to_list() == [4, 4, 4, 4, 3, 3] and runs["left"].to_list()[4] == 1
    # the same rule again: nothing to do; the saved segment by name alone: the same
    assert sr.prepare(audience, "fr", FR, days=30, end="2026-05-31") == (first, last)
    assert sr.prepare(audience, "fr", None, days=30, end="2026-05-31") == (first, last)
    assert len(segments.runs(audience, "fr")) == 6
    # a wider window reaches further back: materialised again
    sr.prepare(audience, "fr", FR, days=60, end="2026-05-31")
    assert segments.runs(audience, "fr")["as_of"].min() == datetime(2026, 4, 2)


def test_prepare_refusals(audience: Store) -> None:
    with pytest.raises(ConfigError, match="no segment named 'nope'"):
        sr.prepare(audience, "nope", None, days=30, end="2026-05-31")
    with pytest.raises(ConfigError, match="unknown attribute"):
        sr.prepare(audience, "bad", {"attribute": "shoe_size", "gt": 40}, days=30, end="2026-05-31")
    with pytest.raises(ConfigError, match="days must be at least 1"):
        sr.prepare(audience, "fr", FR, days=0, end="2026-05-31")


def test_against_base(audience: Store) -> None:
    first, last = sr.prepare(audience, "fr", FR, days=30, end="2026-05-31")
    total = sr.against_base(audience, "fr", first, last, period=None)
    # sent in the window: A and B on May 22, C (German) on May 27, E on May 29 (still a member)
    assert total.select("segment", "sent", "delivered").rows() == [("fr", 3, 3), (sr.BASE, 4, 4)]
    weekly = sr.against_base(audience, "fr", first, last)
    assert set(weekly["segment"]) == {"fr", sr.BASE}
    fr_weeks = weekly.filter(weekly["segment"] == "fr")
    assert fr_weeks.filter(fr_weeks["sent"] > 0).select("week", "sent").rows() == [(date(2026, 5, 18), 2), (date(2026, 5, 25), 1)]
    assert int(weekly.filter(weekly["segment"] == sr.BASE)["sent"].sum()) == 4
    # a filter applies to both sides
    news = sr.against_base(audience, "fr", first, last, period=None, where={"campaign": ["news-2"]})
    assert news.select("segment", "sent").rows() == [("fr", 1), (sr.BASE, 1)]
    with pytest.raises(ConfigError):
        sr.against_base(audience, "fr", first, last, period="fortnight")
