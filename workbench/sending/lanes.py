"""Lanes: where built messages wait for a connection, one lane per (provider, IP).

A lane has up to the provider's connection limit of workers; each worker holds at most one
connection (bound to the IP's source address), taken from the provider's connection slots
(shared by the provider's lanes across IPs), paces each message by the provider's rate,
and closes its connection after the provider's messages-per-connection or after a second
without work. Every reply becomes an :class:`~workbench.sending.ledger.Outcome`
(:func:`outcome_of`): 250 -> sent, 5xx -> failed (bounced event), 4xx or no connection ->
planned again after a back-off (deferred event) until the last attempt (then failed),
connection lost after the message was written -> uncertain.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from workbench.sending.build import Outgoing
from workbench.sending.ledger import Outcome
from workbench.sending.shaping import Shaper, Shaping
from workbench.sending.transport import Connection, Reply, Transport

if TYPE_CHECKING:
    from workbench.sending.config import SendConfig

__all__ = ["Lanes", "Queued", "outcome_of"]

IDLE_SECONDS = 1.0
REQUEUES = 2


@dataclass
class Queued:
    """A built message waiting on its lane."""

    key: str
    message: Outgoing
    attempts: int
    config: SendConfig
    requeued: int = 0


def outcome_of(reply: Reply, item: Queued, relay: str, now: datetime | None = None) -> Outcome:
    """The ledger outcome and event of a reply (see the module docstring)."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    message, config = item.message, item.config
    code = reply.code or None
    fields: dict[str, object] = {"diagnostic": f"{reply.code or ''} {reply.text}".strip()[:1000], "sender": message.sender,
                                 "remote_mta": relay, "ts": now}
    if reply.ok:
        return Outcome(item.key, message.message_id, "sent", code, reply.text[:500], event="injected", event_fields=fields)
    if reply.uncertain:
        return Outcome(item.key, message.message_id, "uncertain", None, reply.text[:500])
    if reply.permanent:
        return Outcome(item.key, message.message_id, "failed", code, reply.text[:500], event="bounced", event_fields=fields)
    if item.attempts >= config.max_attempts:
        fields["diagnostic"] = f"gave up after {item.attempts} attempts: {fields['diagnostic']}"
        return Outcome(item.key, message.message_id, "failed", code, str(fields["diagnostic"])[:500], event="bounced",
                       event_fields=fields)
    delay = config.retry_base * 2 ** max(0, item.attempts - 1)
    return Outcome(item.key, message.message_id, "planned", code, f"deferred: {reply.text}"[:500],
                   next_attempt_at=now + timedelta(seconds=delay), event="deferred", event_fields=fields)


class _Lane:
    def __init__(self, provider: str, ip: str | None, source: str | None, transport: Transport) -> None:
        self.provider, self.ip, self.source, self.transport = provider, ip, source, transport
        self.queue: asyncio.Queue[Queued | None] = asyncio.Queue()
        self.workers: list[asyncio.Task[None]] = []


class Lanes:
    """The lanes of one run.

    Parameters
    ----------
    shaping:
        Per-provider limits.
    transport_for:
        The transport to use for an IP (a relay per pool, HELO per IP).
    on_outcome:
        Called with every outcome (in the event loop).
    """

    def __init__(self, shaping: Shaping, transport_for: Callable[[str | None], Transport],
                 on_outcome: Callable[[Outcome], None]) -> None:
        self.shaper = Shaper(shaping)
        self.transport_for = transport_for
        self.on_outcome = on_outcome
        self.lanes: dict[tuple[str, str | None], _Lane] = {}

    def put(self, provider: str, ip: str | None, source: str | None, key: str, message: Outgoing, attempts: int,
            config: SendConfig) -> None:
        """Queue a built message on its lane (workers start with the lane)."""
        lane = self.lanes.get((provider, ip))
        if lane is None:
            lane = self.lanes[(provider, ip)] = _Lane(provider, ip, source, self.transport_for(ip))
            for _ in range(self.shaper.rule(provider).connections):
                lane.workers.append(asyncio.create_task(self._work(lane)))
        lane.queue.put_nowait(Queued(key, message, attempts, config))

    async def close(self) -> None:
        """Let the workers finish what is queued, then stop them (safe to call twice)."""
        lanes, self.lanes = list(self.lanes.values()), {}
        for lane in lanes:
            for _ in lane.workers:
                lane.queue.put_nowait(None)
        for lane in lanes:
            await asyncio.gather(*lane.workers)

    async def _close(self, connection: Connection | None, slot: asyncio.Semaphore) -> None:
        if connection is not None:
            with contextlib.suppress(OSError, ConnectionError):
                await connection.close()
            slot.release()

    async def _work(self, lane: _Lane) -> None:
        slot = self.shaper.connection_slot(lane.provider)
        rule = self.shaper.rule(lane.provider)
        relay = lane.transport.describe()
        connection: Connection | None = None
        used = 0
        try:
            while True:
                try:
                    item = await (asyncio.wait_for(lane.queue.get(), IDLE_SECONDS) if connection else lane.queue.get())
                except TimeoutError:
                    await self._close(connection, slot)
                    connection = None
                    continue
                if item is None:
                    break
                if connection is None:
                    await slot.acquire()
                    try:
                        connection = await lane.transport.connect(lane.source)
                        used = 0
                    except (ConnectionError, OSError) as exc:
                        slot.release()
                        self.on_outcome(outcome_of(Reply(0, str(exc), "connect"), item, relay))
                        continue
                await self.shaper.pace(lane.provider)
                reply = await connection.send(item.message.sender, item.message.recipient, item.message.data)
                used += 1
                if reply.stage == "connect" and reply.code == 0 and item.requeued < REQUEUES:
                    item.requeued += 1  # the connection broke before this message: try it on a new one
                    lane.queue.put_nowait(item)
                else:
                    self.on_outcome(outcome_of(reply, item, relay))
                if reply.stage in ("connect", "lost") or used >= rule.per_connection:
                    await self._close(connection, slot)
                    connection = None
        finally:
            await self._close(connection, slot)
