"""IP warm-up: the schedule, caps per day and the allocation with overflow."""

from __future__ import annotations

from datetime import date

from workbench.sending.warmup import SPARKPOST, WarmupSchedule, allocate, remaining


def test_sparkpost_schedule_by_day():
    schedule = WarmupSchedule()
    start = date(2026, 11, 1)
    assert schedule.cap(start, date(2026, 11, 1)) == 200
    assert schedule.cap(start, date(2026, 11, 2)) == 500
    assert schedule.cap(start, date(2026, 11, 29)) == 10_000_000
    assert schedule.cap(start, date(2026, 11, 30)) is None  # warm
    assert schedule.cap(start, date(2026, 10, 31)) == 0     # not started: sends nothing
    assert schedule.cap(None, date(2026, 11, 1)) is None    # an IP without warm-up is warm
    assert schedule.day(start, date(2026, 11, 3)) == 3 and schedule.day(start, date(2027, 1, 1)) is None
    assert len(SPARKPOST) == 29 and list(SPARKPOST) == sorted(SPARKPOST)


def test_remaining_subtracts_todays_use():
    assert remaining({"a": 200, "b": None, "c": 10}, {"a": 150, "c": 30}) == {"a": 50, "b": None, "c": 0}


def test_allocation_is_round_robin_within_caps():
    assert allocate(["a", "b"], {"a": None, "b": None}, 5) == ["a", "b", "a", "b", "a"]
    assert allocate(["new", "warm"], {"new": 2, "warm": None}, 6) == ["new", "warm", "new", "warm", "warm", "warm"]


def test_what_no_ip_can_take_is_none():
    assert allocate(["a", "b"], {"a": 1, "b": 2}, 5) == ["a", "b", "b", None, None]
    assert allocate(["a"], {"a": 0}, 2) == [None, None]
    assert allocate([], {}, 0) == []
