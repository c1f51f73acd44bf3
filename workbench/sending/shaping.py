"""Traffic shaping per mailbox provider, like an MTA's rules: connections, messages per
connection, messages per minute.

The defaults are KumoMTA's shipped shaping (``shared/reference/senders.md``): 10 connections,
100 messages per connection and 100 messages a second for any provider, and tighter rules for
Gmail (5 connections, 50 a connection), Microsoft (5, 50), Yahoo (20 a connection), Apple
(10, 5), Comcast (25, 1 000) and Orange (2, 100). Connections count across a provider's IPs;
the rate is a token bucket per provider (burst: a second's worth).

Examples
--------
>>> Shaping().rule("gmail")
ProviderRule(connections=5, per_connection=50, per_minute=6000)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["DEFAULT_RULES", "ProviderRule", "Shaper", "Shaping", "TokenBucket"]


@dataclass(frozen=True)
class ProviderRule:
    """Limits toward one provider."""

    connections: int = 10
    per_connection: int = 100
    per_minute: int = 6_000

    def __post_init__(self) -> None:
        if self.connections < 1 or self.per_connection < 1 or self.per_minute < 1:
            raise ValueError(f"shaping limits must be at least 1: {self}")


DEFAULT_RULES: dict[str, ProviderRule] = {
    "gmail": ProviderRule(connections=5, per_connection=50),
    "microsoft": ProviderRule(connections=5, per_connection=50),
    "yahoo": ProviderRule(per_connection=20),
    "apple": ProviderRule(connections=10, per_connection=5),
    "comcast": ProviderRule(connections=25, per_connection=1_000),
    "orange": ProviderRule(connections=2, per_connection=100),
}


@dataclass(frozen=True)
class Shaping:
    """Rules per provider, and the rule for any other."""

    rules: Mapping[str, ProviderRule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    default: ProviderRule = ProviderRule()

    def rule(self, provider: str | None) -> ProviderRule:
        return self.rules.get(provider or "", self.default)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> Shaping:
        """Rules changed per provider (``{"gmail": {"per_minute": 600}}``; ``"default"`` for
        the others, applied first: a provider without a rule of its own starts from it).

        Raises
        ------
        ValueError
            An unknown field or a limit below 1.
        """
        rules = dict(self.rules)
        default = self.default
        ordered = sorted(overrides.items(), key=lambda item: item[0] != "default")  # the default first
        for provider, values in ordered:
            unknown = set(values) - {"connections", "per_connection", "per_minute"}
            if unknown:
                raise ValueError(f"unknown shaping field(s) for {provider}: {', '.join(sorted(unknown))}")
            if provider == "default":
                default = replace(default, **values)
            else:
                rules[provider] = replace(rules.get(provider, default), **values)
        return Shaping(rules, default)

    @classmethod
    def unlimited(cls, connections: int = 16) -> Shaping:
        """No rate limit and long connections (a benchmark against a local sink)."""
        rule = ProviderRule(connections=connections, per_connection=1_000_000, per_minute=1_000_000_000)
        return cls({}, rule)


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved; ``clock`` and ``sleep`` injectable."""

    def __init__(self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.rate, self.burst = rate, max(1.0, burst)
        self.tokens = self.burst
        self.clock, self.sleep = clock, sleep
        self.updated = clock()
        self.lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self) -> float:
        """Take a token, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        async with self.lock:
            self._refill()
            while self.tokens < 1:
                pause = (1 - self.tokens) / self.rate
                await self.sleep(pause)
                waited += pause
                self._refill()
            self.tokens -= 1
        return waited


class Shaper:
    """The live state of :class:`Shaping` for one run: a bucket and a connection semaphore
    per provider."""

    def __init__(self, shaping: Shaping, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.shaping = shaping
        self.clock = clock
        self.buckets: dict[str, TokenBucket] = {}
        self.slots: dict[str, asyncio.Semaphore] = {}
        self.waited: dict[str, float] = {}

    def rule(self, provider: str) -> ProviderRule:
        return self.shaping.rule(provider)

    def bucket(self, provider: str) -> TokenBucket:
        if provider not in self.buckets:
            rate = self.rule(provider).per_minute / 60.0
            self.buckets[provider] = TokenBucket(rate, rate, clock=self.clock)
        return self.buckets[provider]

    def connection_slot(self, provider: str) -> asyncio.Semaphore:
        if provider not in self.slots:
            self.slots[provider] = asyncio.Semaphore(self.rule(provider).connections)
        return self.slots[provider]

    async def pace(self, provider: str) -> None:
        """Wait for the provider's rate to allow one more message."""
        waited = await self.bucket(provider).acquire()
        if waited:
            self.waited[provider] = self.waited.get(provider, 0.0) + waited
