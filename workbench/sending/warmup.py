"""IP warm-up: a daily cap per new IP, and the rest of a batch overflowing to warm IPs.

A new IP (``ips.warmup_start`` set) may send ``caps[day - 1]`` messages on day ``day`` of its
warm-up (day 1 is the start date); past the end of the schedule, or without a start date,
it is warm (no cap). The default is SparkPost's published schedule (200, 500, 1 000, … 10 M
over 29 days, see ``shared/reference/senders.md``). :func:`allocate` spreads a batch over a
pool's IPs round-robin, never past an IP's remaining cap for the day; what no IP can take
stays unassigned (held until tomorrow's caps).

Examples
--------
>>> WarmupSchedule().cap(date(2026, 11, 1), date(2026, 11, 3))
1000
>>> allocate(["a", "b"], {"a": 1, "b": None}, 4)
['a', 'b', 'b', 'b']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

__all__ = ["SPARKPOST", "WarmupSchedule", "allocate"]

#: SparkPost's warm-up schedule: messages a day per IP, days 1 to 29
SPARKPOST = (200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 50_000, 75_000, 100_000, 150_000, 200_000,
             250_000, 325_000, 400_000, 500_000, 600_000, 750_000, 1_000_000, 1_250_000, 1_750_000, 2_000_000,
             3_000_000, 4_250_000, 5_000_000, 6_000_000, 7_500_000, 10_000_000)


@dataclass(frozen=True)
class WarmupSchedule:
    """Day -> daily cap per new IP (``caps[0]`` is day 1)."""

    caps: tuple[int, ...] = SPARKPOST

    def cap(self, warmup_start: date | None, today: date) -> int | None:
        """Today's cap for an IP whose warm-up started on ``warmup_start`` (None: no cap).
        An IP whose warm-up has not started yet sends nothing."""
        if warmup_start is None:
            return None
        day = (today - warmup_start).days + 1
        if day < 1:
            return 0
        return self.caps[day - 1] if day <= len(self.caps) else None

    def day(self, warmup_start: date | None, today: date) -> int | None:
        """The warm-up day (1-based), None when warm."""
        if warmup_start is None:
            return None
        day = (today - warmup_start).days + 1
        return day if day <= len(self.caps) else None


def remaining(caps: Mapping[str, int | None], used: Mapping[str, int]) -> dict[str, int | None]:
    """What each IP may still send today (None: no limit)."""
    return {ip: None if cap is None else max(0, cap - used.get(ip, 0)) for ip, cap in caps.items()}


def allocate(ips: Sequence[str], room: Mapping[str, int | None], n: int) -> list[str | None]:
    """Assign ``n`` messages to ``ips`` round-robin within each IP's ``room`` (None: no limit);
    ``None`` for a message no IP can take today."""
    left = {ip: room.get(ip) for ip in ips}
    out: list[str | None] = []
    order = list(ips)
    i = 0
    for _ in range(n):
        chosen = None
        for step in range(len(order)):
            ip = order[(i + step) % len(order)]
            cap = left[ip]
            if cap is None or cap > 0:
                chosen = ip
                if cap is not None:
                    left[ip] = cap - 1
                i = (i + step + 1) % len(order)
                break
        out.append(chosen)
    return out
