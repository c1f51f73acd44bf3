"""Traffic shaping: the rules per provider, overrides, and the token bucket on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from workbench.sending.shaping import DEFAULT_RULES, ProviderRule, Shaper, Shaping, TokenBucket


class FakeClock:
    """A clock that only moves when the bucket sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_defaults_follow_kumomta():
    shaping = Shaping()
    assert shaping.rule("gmail") == ProviderRule(5, 50, 6000)
    assert shaping.rule("microsoft").connections == 5 and shaping.rule("apple").per_connection == 5
    assert shaping.rule("orange") == ProviderRule(2, 100, 6000)
    assert shaping.rule("some-isp") == ProviderRule() == shaping.rule(None)
    assert set(DEFAULT_RULES) == {"gmail", "microsoft", "yahoo", "apple", "comcast", "orange"}


def test_overrides_change_one_field_and_the_default():
    shaping = Shaping().with_overrides({"gmail": {"per_minute": 600}, "default": {"connections": 4}, "gmx": {"per_connection": 9}})
    assert shaping.rule("gmail") == ProviderRule(5, 50, 600)
    assert shaping.rule("other").connections == 4
    assert shaping.rule("gmx") == ProviderRule(4, 9, 6000)  # a new provider starts from the new default
    with pytest.raises(ValueError, match="unknown shaping field"):
        Shaping().with_overrides({"gmail": {"rate": 1}})
    with pytest.raises(ValueError, match="at least 1"):
        Shaping().with_overrides({"gmail": {"connections": 0}})


def test_unlimited_is_for_benchmarks():
    rule = Shaping.unlimited(8).rule("gmail")
    assert rule.connections == 8 and rule.per_minute >= 10**9


def test_bucket_allows_a_burst_then_paces():
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=2, clock=clock, sleep=clock.sleep)

    async def take(n: int) -> list[float]:
        return [await bucket.acquire() for _ in range(n)]

    waits = asyncio.run(take(6))
    assert waits[:2] == [0.0, 0.0]                      # the burst
    assert waits[2:] == pytest.approx([0.5] * 4)        # then two a second
    assert clock.now == pytest.approx(2.0)


def test_bucket_refills_while_idle():
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=3, clock=clock, sleep=clock.sleep)

    async def scenario() -> list[float]:
        out = [await bucket.acquire() for _ in range(3)]
        clock.now += 10  # idle: refills, but never past the burst
        out += [await bucket.acquire() for _ in range(4)]
        return out

    assert asyncio.run(scenario()) == pytest.approx([0, 0, 0, 0, 0, 0, 1.0])


def test_shaper_keeps_a_bucket_and_slots_per_provider():
    clock = FakeClock()
    shaper = Shaper(Shaping().with_overrides({"gmail": {"per_minute": 60}}), clock=clock)

    async def scenario() -> None:
        slot = shaper.connection_slot("gmail")
        assert slot is shaper.connection_slot("gmail") and slot is not shaper.connection_slot("yahoo")
        for _ in range(5):
            await slot.acquire()
        assert slot.locked()  # five Gmail connections, no sixth
        bucket = shaper.bucket("gmail")
        bucket.sleep = clock.sleep
        for _ in range(3):
            await shaper.pace("gmail")

    asyncio.run(scenario())
    assert shaper.bucket("gmail").rate == 1.0 and shaper.waited["gmail"] == pytest.approx(2.0)
