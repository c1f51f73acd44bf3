"""The campaign sender: claims from the ledger, builds, sends over shaped lanes, settles.

One run (:func:`send_campaign`)::

    recover what a dead run left in flight (reconcile with the relay's record)
    loop:  claim a batch (suppression re-checked, IPs allocated, rows -> sending)
           build it (in worker processes when ``workers`` > 0)
           queue each message on its lane (provider x IP): up to the provider's
           connections, each connection bound to the IP's source address, paced by the
           provider's rate, reconnecting after its messages-per-connection
           settle outcomes + events every few hundred messages (one transaction)
    wait for retries that fall due within ``retry_wait``; reconcile uncertain ones

DuckDB is only touched from one thread (a single-worker executor), never from the event
loop, and the writer lock is released between transactions so notebooks and loads get in.
At most ``4 x batch_size`` messages are claimed and unsettled at any time: that bounds
what a crash can leave ``sending``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from workbench.auth.dkim_keys import DkimKey, load_private_key
from workbench.errors import SendError
from workbench.sending.build import (
    BuildSpec,
    MessageBuilder,
    Outgoing,
    build_batch,
    init_worker,
    planned_rows,
)
from workbench.sending.campaign import Campaign
from workbench.sending.config import SendConfig
from workbench.sending.lanes import Lanes
from workbench.sending.ledger import Outcome, Record, claim, recover, settle
from workbench.sending.templates import Template
from workbench.sending.transport import SmtpTransport, Transport
from workbench.sending.warmup import allocate, remaining
from workbench.store import Store
from workbench.tracking.spool import SpoolTail

__all__ = ["RunResult", "campaign_keys", "run_sync", "send_campaign"]

T = TypeVar("T")
#: while bounces come in, suppressions are brought up to date at most this often (and at the end)
SYNC_SECONDS = 30.0
Progress = Callable[[dict[str, int]], None]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class RunResult:
    """What one run did."""

    run_id: str
    campaign_id: str
    relay: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return self.counts.get("sent", 0)

    @property
    def messages_per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {"run_id": self.run_id, "campaign_id": self.campaign_id, "relay": self.relay, **self.counts,
                "seconds": round(self.seconds, 2), "messages_per_second": round(self.messages_per_second, 1)}


def campaign_keys(campaign: Campaign, keys_dir: Path | None) -> list[DkimKey]:
    """The DKIM keys of the campaign's selectors (dual signing when several).

    Raises
    ------
    ConfigError
        A key is missing (the message says how to create it).
    """
    return [load_private_key(campaign.sending_domain, s, keys_dir) for s in campaign.selectors]


@contextlib.contextmanager
def _exclusive(store: Store, campaign_id: str) -> Iterator[None]:
    folder = store.path.parent / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in campaign_id)
    handle = open(folder / f"send-{safe}.lock", "a+")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise SendError(campaign_id, None, "another sender is running this campaign; wait for it to finish") from exc
        yield
    finally:
        handle.close()


class _Run:
    def __init__(self, store: Store, campaign: Campaign, spec: BuildSpec, config: SendConfig,
                 transport: Transport | None, record: Record | None, progress: Progress | None) -> None:
        self.store, self.campaign, self.spec, self.config = store, campaign, spec, config
        self.record, self.progress = record, progress
        self.run_id = f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        self.db = ThreadPoolExecutor(1, thread_name_prefix="workbench-ledger")
        self.pool: Executor | None = None
        self.builder: MessageBuilder | None = None
        self.pending: list[Outcome] = []
        self.inflight = 0   # queued on a lane or being sent, not settled yet
        self.building = 0   # claimed, being rendered and signed
        self.tasks: set[asyncio.Task[None]] = set()
        self.error: BaseException | None = None
        self.changed = asyncio.Event()
        self.counts: dict[str, int] = {k: 0 for k in ("sent", "failed", "deferred", "suppressed", "uncertain",
                                                      "reconciled", "resent", "held")}
        relay = config.relay_for(campaign.ip_pool)
        self.relay = transport.describe() if transport else relay.describe()
        self.lanes = Lanes(config.shaping, self._transport_for(transport, relay), self._settled)
        self.spool = SpoolTail(config.spool_dir) if config.spool_dir else None
        self.unsubscribed: set[str] = set()
        self.hosts: dict[str, str] = {}
        self.bounced, self.synced = False, time.monotonic()
        self.room: dict[str, int | None] = {}
        self.ips: list[str] = []

    def _transport_for(self, given: Transport | None, relay: Any) -> Callable[[str | None], Transport]:
        made: dict[str | None, Transport] = {}

        def factory(ip: str | None) -> Transport:
            if given is not None:
                return given
            if ip not in made:
                helo = self.hosts.get(ip or "")
                made[ip] = SmtpTransport(replace(relay, helo=helo) if helo else relay)
            return made[ip]
        return factory

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db, lambda: fn(*args, **kwargs))

    # -- ledger side (the db thread) ---------------------------------------------------------

    def _prepare(self) -> dict[str, int]:
        now = utcnow()
        self.store.execute("INSERT INTO send_runs (run_id, campaign_id, started_at, pid, relay) VALUES (?, ?, ?, ?, ?)",
                           [self.run_id, self.campaign.campaign_id, now, os.getpid(), self.relay])
        ips = self.store.query("SELECT ip, warmup_start, hostname FROM ips WHERE pool = $p ORDER BY ip",
                               {"p": self.campaign.ip_pool or ""})
        self.ips = ips["ip"].to_list()
        self.hosts = {ip: host for ip, _, host in ips.iter_rows() if host}
        today = self.config.today or now.date()
        caps = {ip: self.config.warmup.cap(start, today) for ip, start, _ in ips.iter_rows()}
        used = dict(self.store.query(
            "SELECT sending_ip, count(*) FROM events WHERE event_type = 'injected' AND ts >= $d AND ts < $d + INTERVAL 1 DAY "
            "AND sending_ip IN (SELECT unnest($ips)) GROUP BY 1",
            {"d": datetime.combine(today, datetime.min.time()), "ips": self.ips or [""]}).iter_rows())
        self.room = remaining(caps, used)
        return recover(self.store, self.campaign, self.record, now)

    def _allocate(self, n: int) -> list[str | None]:
        if not self.ips:
            return [""] * n
        chosen = allocate(self.ips, self.room, n)
        for ip in chosen:
            if ip is not None and self.room.get(ip) is not None:
                self.room[ip] = max(0, (self.room[ip] or 0) - 1)
        return chosen

    def _claim(self, n: int) -> tuple[pl.DataFrame, list[Outcome]]:
        now = utcnow()
        if self.spool is not None:  # the tail returns new lines only: remember every unsubscribe seen
            self.unsubscribed |= self.spool.unsubscribed(self.campaign.list_name)
        extra = self.unsubscribed
        tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time())
        result = claim(self.store, self.campaign, self.run_id, n, now, allocate=self._allocate,
                       also_suppressed=extra, hold_until=tomorrow)
        self.store.release()
        return result

    def _settle(self, outcomes: list[Outcome]) -> None:
        settle(self.store, outcomes, utcnow(), self.campaign)
        if any(o.event == "bounced" for o in outcomes):
            self.bounced = True
        if self.bounced and time.monotonic() - self.synced >= SYNC_SECONDS:
            self._sync()
        self.store.release()

    def _sync(self) -> None:
        """Hard bounces (and anything else the events call for) suppress their addresses."""
        from workbench.audience.suppression import sync

        sync(self.store)
        self.bounced, self.synced = False, time.monotonic()

    def _next_due(self) -> datetime | None:
        value = self.store.scalar("SELECT min(coalesce(next_attempt_at, planned_at)) FROM send_ledger "
                                  "WHERE campaign_id = $c AND status = 'planned'", {"c": self.campaign.campaign_id})
        return value if isinstance(value, datetime) else None

    def _finish(self, status: str) -> None:
        if self.bounced:
            self._sync()
        c = self.counts
        self.store.execute(
            "UPDATE send_runs SET finished_at = ?, sent = ?, failed = ?, deferred = ?, suppressed = ?, reconciled = ?, "
            "uncertain = ?, status = ? WHERE run_id = ?",
            [utcnow(), c["sent"], c["failed"], c["deferred"], c["suppressed"], c["reconciled"], c["uncertain"], status,
             self.run_id])
        self.store.release(force=True)

    # -- the event loop side ----------------------------------------------------------------

    def _settled(self, outcome: Outcome) -> None:
        key = {"sent": "sent", "failed": "failed", "uncertain": "uncertain"}.get(outcome.status)
        if outcome.status == "planned":
            key = "deferred"
        if key:
            self.counts[key] += 1
        self.pending.append(outcome)
        self.inflight -= 1
        self.changed.set()

    async def _flush(self, force: bool = False) -> None:
        if self.pending and (force or len(self.pending) >= self.config.batch_size):
            batch, self.pending = self.pending, []
            await self.call(self._settle, batch)
            if self.progress:
                self.progress(dict(self.counts))

    async def _build(self, rows: pl.DataFrame) -> list[Outgoing]:
        now = datetime.now(UTC)
        tuples = list(rows.select("message_id", "contact_id", "recipient", "attributes").iter_rows())
        if self.pool is not None:  # a share of the batch for every worker, built at once
            loop = asyncio.get_running_loop()
            size = -(-len(tuples) // max(1, self.config.workers))
            parts = await asyncio.gather(*(loop.run_in_executor(self.pool, build_batch, tuples[i:i + size], now)
                                           for i in range(0, len(tuples), size)))
            return [message for part in parts for message in part]
        assert self.builder is not None
        return [self.builder.build(row, now) for row in planned_rows(tuples)]

    async def _build_and_dispatch(self, rows: pl.DataFrame) -> None:
        try:
            await self._dispatch(rows)
        except BaseException as exc:  # raised by main()
            self.error = exc
        finally:
            self.building -= len(rows)
            self.changed.set()

    async def _wait(self) -> None:
        """Until a message settles or a batch is built; then settle what is due."""
        self.changed.clear()
        await self.changed.wait()
        if self.error is not None:
            raise self.error
        await self._flush()

    async def _dispatch(self, rows: pl.DataFrame) -> None:
        built = await self._build(rows)
        info = {r[0]: r for r in rows.select("message_id", "ledger_key", "mailbox_provider", "sending_ip", "attempts").iter_rows()}
        for message in built:
            _, key, provider, ip, attempts = info[message.message_id]
            self.inflight += 1
            if message.error:
                self._settled(Outcome(key, message.message_id, "failed", detail=f"not sent: {message.error}",
                                      event="dropped", event_fields={"diagnostic": message.error[:500]}))
                continue
            self.lanes.put(provider or "other", ip, self.config.bind.get(ip or ""), key, message, attempts,
                           self.config)

    async def main(self) -> None:
        recovered = await self.call(self._prepare)
        self.counts["reconciled"] += recovered["reconciled"]
        self.counts["resent"] += recovered["resent"]
        self.counts["uncertain"] += recovered["uncertain"]
        limit = 4 * self.config.batch_size
        reconciled_once = False
        while True:
            while self.inflight + self.building > limit - self.config.batch_size:
                await self._wait()
            rows, dropped = await self.call(self._claim, self.config.batch_size)
            self.counts["suppressed"] += len(dropped)
            self.pending.extend(dropped)
            if not rows.is_empty():
                # built while the next batch is claimed and earlier ones are sent
                self.building += len(rows)
                task = asyncio.create_task(self._build_and_dispatch(rows))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                await self._flush()
                continue
            while self.inflight or self.building:  # nothing more to claim now: let what is in flight end
                await self._wait()
            await self._flush(force=True)
            due = await self.call(self._next_due)
            wait = (due - utcnow()).total_seconds() if due else None
            if wait is not None and wait <= self.config.retry_wait:
                await asyncio.sleep(max(0.0, wait) + 0.01)
                continue
            if self.counts["uncertain"] and self.record is not None and not reconciled_once:
                reconciled_once = True
                again = await self.call(recover, self.store, self.campaign, self.record, utcnow())
                self.counts["reconciled"] += again["reconciled"]
                self.counts["resent"] += again["resent"]
                self.counts["uncertain"] -= again["reconciled"] + again["resent"]
                if again["resent"]:
                    continue
            break
        await self.lanes.close()
        await self._flush(force=True)

    async def run(self) -> RunResult:
        started = time.perf_counter()
        if self.config.workers > 0:
            context = multiprocessing.get_context("forkserver")
            # the fork server imports the builder once; workers fork from it ready to build
            context.set_forkserver_preload(["workbench.sending.build"])
            self.pool = ProcessPoolExecutor(self.config.workers, mp_context=context, initializer=init_worker,
                                            initargs=(self.spec,))
            for _ in range(self.config.workers):  # start the workers while the ledger is read and claimed
                self.pool.submit(os.getpid)
        else:
            self.builder = MessageBuilder(self.spec)
        status = "interrupted"
        try:
            await self.main()
            status = "finished"
        finally:
            for task in list(self.tasks):  # builds still running when the run stops early
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.lanes.close()
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
            await self.call(self._finish, status)
            self.db.shutdown(wait=True)
        self.counts["held"] = int(self.store.scalar(
            "SELECT count(*) FROM send_ledger WHERE campaign_id = $c AND status = 'planned' AND detail LIKE 'held:%'",
            {"c": self.campaign.campaign_id}) or 0)
        return RunResult(self.run_id, self.campaign.campaign_id, self.relay, dict(self.counts),
                         time.perf_counter() - started)


def run_sync(coro_factory: Callable[[], Any]) -> Any:
    """Run a coroutine to completion, also from inside a running loop (a Jupyter kernel):
    then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro_factory())
        except BaseException as exc:  # handed back to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="workbench-send")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def send_campaign(store: Store, campaign: Campaign, template: Template, config: SendConfig, *,
                  keys: list[DkimKey] | None = None, transport: Transport | None = None, record: Record | None = None,
                  progress: Progress | None = None) -> RunResult:
    """Send what the ledger holds planned for ``campaign`` (see the module docstring).

    Raises
    ------
    SendError
        Another sender runs this campaign.
    ConfigError
        A DKIM key is missing, or the template is not valid.
    StoreError
        The store cannot be written.
    """
    keys = keys if keys is not None else campaign_keys(campaign, config.keys_dir)
    spec = BuildSpec.of(campaign, template, keys, tracking_url=config.tracking_url,
                        tracking_keys=config.tracking_keys, trace_key=config.trace_key)
    MessageBuilder(spec)  # fail early on a bad template or key
    with _exclusive(store, campaign.campaign_id):
        result: RunResult = run_sync(lambda: _Run(store, campaign, spec, config, transport, record, progress).run())
    return result
