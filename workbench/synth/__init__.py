"""The seeded synthetic sending world used by the demo, the tests and the benchmarks.

``generate(out, events=N, seed=S, end=D)`` writes, under ``out``:

- ``infrastructure.yaml``: pools, IPs (and their MTA names), sending domains, campaigns;
- ``sendlogs/``: the events, in the formats real systems write (see :mod:`.writers`);
- ``audience/contacts.csv``: the contacts with their attributes and lists;
- ``dns/brightmart.example.zone`` (and ``dns/web/``, ``.keys/``): the world's DNS with a few
  authentication faults, and our DKIM keys (see :mod:`.zone`);
- ``dmarc/``: DMARC aggregate reports of the big receivers for the same messages, a
  spoofing source among them, and Google's SMTP TLS reports (see :mod:`.dmarc`);
- ``mail/feedback.mbox``: bounces, complaint reports and auto-replies that arrive by mail
  (see :mod:`.feedback`; those events are not in the send logs).

The same ``(seed, end, events, days)`` gives byte-identical files. Generation is columnar:
about a million events a second on two cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from workbench.synth import dmarc, feedback, sends, writers
from workbench.synth.world import World, make_calendar, make_contacts, window
from workbench.synth.zone import write_dns

__all__ = ["SynthResult", "World", "generate"]

#: average events per message and messages per contact, to size the base from a target
EVENTS_PER_MESSAGE = 2.6
MESSAGES_PER_CONTACT = 44.0


@dataclass
class SynthResult:
    """What :func:`generate` wrote, with its timings."""

    out: Path
    contacts: int
    messages: int
    events: int
    by_format: dict[str, int] = field(default_factory=dict)
    start: datetime | None = None
    end: date | None = None
    generate_seconds: float = 0.0
    write_seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.generate_seconds if self.generate_seconds else 0.0


def contacts_for(events: int, days: int) -> int:
    """The number of contacts that yields about ``events`` events over ``days`` days."""
    return max(200, round(events / (EVENTS_PER_MESSAGE * MESSAGES_PER_CONTACT * days / 90)))


def simulate(events: int = 1_000_000, *, seed: int = 42, end: date | None = None, days: int = 90, world: World | None = None) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, datetime]:
    """Draw the world in memory: contacts, calendar, messages, events, window start."""
    world = world or World()
    end = end or (datetime.now(UTC).date() - timedelta(days=1))
    rng = np.random.default_rng(seed)
    start = window(end, days)
    contacts = make_contacts(rng, contacts_for(events, days), start, days)
    calendar = make_calendar(rng, world, start, days)
    msgs = sends.plan_messages(rng, world, contacts, calendar, start, days)
    msgs = sends.outcomes(rng, world, msgs, days)
    msgs = sends.message_ids(sends.suppress(msgs))
    evs = sends.events(msgs)
    return contacts, calendar, msgs, evs, start


def generate(
    out: str | Path,
    *,
    events: int = 1_000_000,
    seed: int = 42,
    end: date | None = None,
    days: int = 90,
    progress: Callable[[int], None] | None = None,
) -> SynthResult:
    """Generate the world and write it under ``out`` (see the module docstring)."""
    out = Path(out)
    world = World()
    t0 = time.perf_counter()
    contacts, calendar, msgs, evs, start = simulate(events, seed=seed, end=end, days=days, world=world)
    t1 = time.perf_counter()
    logged, mailed = feedback.split(world, msgs, evs, seed)
    by_format = writers.write_sources(out / "sendlogs", world, logged, msgs.select("msgno", "remote_ip"), progress)
    by_format["feedback-mail"] = feedback.write_mbox(out / "mail" / "feedback.mbox", mailed, calendar)
    write_contacts(out / "audience" / "contacts.csv", contacts)
    write_infrastructure(out / "infrastructure.yaml", world, calendar, start, days)
    write_dns(out, world, seed, (start + timedelta(days=days - 1)).date())
    by_format.update(dmarc.write_reports(out / "dmarc", world, msgs.filter(~pl.col("hard")), start, days, seed))
    t2 = time.perf_counter()
    return SynthResult(out, len(contacts), len(msgs), len(evs), by_format, start, (start + timedelta(days=days - 1)).date(), t1 - t0, t2 - t1)


def write_contacts(path: Path, contacts: pl.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lists = pl.concat_str(
        [pl.when(pl.col(f"on_{name}")).then(pl.lit(name)) for name in ("newsletter", "promotions", "alerts")],
        separator=";", ignore_nulls=True,
    )
    contacts.select(
        "contact_id", "email", "first_name", "last_name", "age", "country", "region", "city", "language",
        pl.col("signup_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("signup_at"), "signup_source", lists.alias("lists"),
    ).write_csv(path)


def write_infrastructure(path: Path, world: World, calendar: pl.DataFrame, start: datetime, days: int) -> None:
    """The company's sending infrastructure as a ``kind: workbench/infrastructure`` file."""
    doc = {
        "kind": "workbench/infrastructure",
        "version": 1,
        "organization": {"name": "Brightmart", "domain": world.root},
        "pools": [{"name": n, "kind": k, "description": d} for n, k, d in world.pools],
        "ips": [
            {
                "ip": ip.ip, "pool": ip.pool, "hostname": ip.hostname, "aliases": list(ip.aliases),
                **({"warmup_start": (start + timedelta(days=ip.warmup_start_day)).date().isoformat()} if ip.warmup_start_day is not None else {}),
            }
            for ip in world.ips
        ],
        "domains": [{"domain": world.root, "purpose": "corporate (no bulk mail)", "dkim_selectors": ["bm2026"]}]
        + [
            {"domain": s.domain, "parent": world.root, "purpose": s.purpose, "stream": s.name, "pool": s.pool,
             "dkim_selectors": ["bm2026", "bm2025"] if s.mta not in ("sendgrid", "ses") else ["s1", "s2"],
             "return_path": s.domain}
            for s in world.streams
        ],
        "campaigns": [
            {"campaign_id": r["campaign_id"], "name": r["name"], "stream": r["stream"], "sending_domain": r["sending_domain"],
             "ip_pool": r["ip_pool"], "subject": r["subject"], "scheduled_at": r["scheduled_at"].isoformat()}
            for r in calendar.iter_rows(named=True)
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


