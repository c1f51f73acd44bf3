"""The send ledger: every message planned before the first byte goes out, exactly once after.

States (table ``send_ledger``, migration 007)::

    planned ──claim──▶ sending ──250──▶ sent
       ▲                  │ ├──5xx──▶ failed (bounced event; hard bounces suppress)
       └──4xx / lost ─────┘ └──lost after the message was written──▶ uncertain
    planned ──suppressed at plan or claim time──▶ suppressed

- :func:`plan` inserts one row per contact (a re-plan adds only new contacts), suppression
  checked then; :func:`claim` re-checks suppression just before a batch goes out, picks
  each message's IP (warm-up caps) and marks the batch ``sending`` in one transaction;
  :func:`settle` records outcomes and their events in one transaction.
- A sender that dies leaves rows ``sending``: :func:`recover` asks the relay's record
  (the sink's Maildir, Postfix's log) which of those Message-IDs arrived — those are
  ``sent``, the others are sent again; without a record they become ``uncertain`` and
  are never resent silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import polars as pl

from workbench.audience.suppression import is_suppressed
from workbench.sending.campaign import Campaign
from workbench.sending.compose import message_id_for
from workbench.store import Store, load_sql

__all__ = ["Outcome", "Plan", "Record", "claim", "plan", "plan_frame", "progress", "recover", "settle"]

LEDGER_COLUMNS = ["ledger_key", "message_id", "contact_id", "recipient", "mailbox_provider", "status", "detail"]


class Record(Protocol):
    """What a relay holds, by Message-ID (``MaildirRecord``, ``PostfixLogRecord``)."""

    def delivered(self, message_ids: Iterable[str]) -> set[str]: ...

    def describe(self) -> str: ...


@dataclass
class Plan:
    """A campaign's plan: one row per contact (``status`` planned or suppressed)."""

    campaign: Campaign
    rows: pl.DataFrame
    invalid: int = 0
    already: int = 0
    earlier: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"mailbox_provider": pl.Utf8}))

    def by_provider(self) -> pl.DataFrame:
        """Per mailbox provider: contacts newly planned, suppressed, and planned by an earlier
        run (``already_planned``), largest first."""
        new = (self.rows.group_by("mailbox_provider")
               .agg(planned=(pl.col("status") == "planned").sum().cast(pl.Int64),
                    suppressed=(pl.col("status") == "suppressed").sum().cast(pl.Int64)))
        old = self.earlier.group_by("mailbox_provider").agg(already_planned=pl.len().cast(pl.Int64))
        both = new.join(old, on="mailbox_provider", how="full", coalesce=True).fill_null(0)
        return both.sort(["planned", "already_planned", "mailbox_provider"], descending=[True, True, False])

    def suppressed(self) -> pl.DataFrame:
        """Suppressed contacts per reason."""
        return (self.rows.filter(pl.col("status") == "suppressed").group_by("detail").len("contacts")
                .sort("contacts", descending=True))

    def summary(self) -> dict[str, int]:
        counts = dict(self.rows.group_by("status").len().iter_rows())
        return {"contacts": len(self.rows), "planned": int(counts.get("planned", 0)),
                "suppressed": int(counts.get("suppressed", 0)), "invalid": self.invalid, "already_planned": self.already}


def plan_frame(store: Store, campaign: Campaign, contacts: pl.DataFrame) -> Plan:
    """The plan for ``contacts`` (normalised audience), without writing anything.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    valid = contacts.filter(pl.col("email").str.contains(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"))
    invalid = len(contacts) - len(valid)
    emails = valid["email"].to_list()
    flags = is_suppressed(store, emails, list=campaign.list_name, contact_ids=valid["contact_id"].to_list())
    domains = sorted({e.rpartition("@")[2] for e in emails})
    providers = dict(store.query("SELECT domain, provider FROM provider_domains WHERE domain IN (SELECT unnest($d))",
                                 {"d": domains or [""]}).iter_rows())
    attrs = [c for c in valid.columns if c not in ("contact_id", "email")]
    attributes = (pl.struct(attrs).struct.json_encode() if attrs else pl.lit(None, pl.Utf8))
    rows = valid.with_columns(
        ledger_key=pl.concat_str([pl.lit(campaign.campaign_id + "/"), pl.col("contact_id")]),
        recipient=pl.col("email"),
        mailbox_provider=pl.col("email").str.extract(r"@(.+)$").replace_strict(providers, default="other"),
        suppressed=flags["suppressed"],
        reason=flags["reason"],
        attributes=attributes,
    ).with_columns(
        status=pl.when(pl.col("suppressed")).then(pl.lit("suppressed")).otherwise(pl.lit("planned")),
        detail=pl.when(pl.col("suppressed")).then(pl.concat_str([pl.lit("suppressed: "), pl.col("reason")])),
        message_id=pl.col("ledger_key").map_elements(lambda k: message_id_for(k, campaign.sending_domain),
                                                     return_dtype=pl.Utf8),
    )
    known = store.query("SELECT ledger_key FROM send_ledger WHERE campaign_id = $c", {"c": campaign.campaign_id})
    already = rows.filter(pl.col("ledger_key").is_in(known["ledger_key"].implode()))
    rows = rows.filter(~pl.col("ledger_key").is_in(known["ledger_key"].implode()))
    return Plan(campaign, rows.select(*LEDGER_COLUMNS, "attributes"), invalid, len(already),
                already.select("mailbox_provider"))


def plan(store: Store, campaign: Campaign, contacts: pl.DataFrame, now: datetime) -> Plan:
    """Plan (and write) the campaign for ``contacts``; contacts already planned are kept as
    they are.

    Raises
    ------
    StoreError
        The store cannot be written.
    """
    result = plan_frame(store, campaign, contacts)
    c = campaign
    frame = result.rows.with_columns(
        campaign_id=pl.lit(c.campaign_id), list_name=pl.lit(c.list_name, pl.Utf8), stream=pl.lit(c.stream),
        sending_domain=pl.lit(c.sending_domain), ip_pool=pl.lit(c.ip_pool, pl.Utf8), planned_at=pl.lit(now),
        finished_at=pl.when(pl.col("status") == "suppressed").then(pl.lit(now)),
    )
    with store.writer() as con:
        con.register("plan_rows", frame.to_arrow())
        try:
            con.execute("INSERT INTO send_ledger BY NAME SELECT * FROM plan_rows ON CONFLICT DO NOTHING")
        finally:
            con.unregister("plan_rows")
    store.release()
    return result


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed message; ``event`` is the event to record (or None)."""

    ledger_key: str
    message_id: str
    status: str  # sent | failed | planned | uncertain | suppressed
    smtp_code: int | None = None
    detail: str | None = None
    next_attempt_at: datetime | None = None
    event: str | None = None
    event_fields: dict[str, object] = field(default_factory=dict)


def claim(store: Store, campaign: Campaign, run_id: str, n: int, now: datetime, *,
          allocate: Callable[[int], list[str | None]], also_suppressed: Iterable[str] = (),
          hold_until: datetime | None = None) -> tuple[pl.DataFrame, list[Outcome]]:
    """Claim up to ``n`` due messages: re-check suppression (the store's, and the contact ids
    in ``also_suppressed``, e.g. unsubscribes still in the tracking spool), give each an IP
    (``allocate``: an IP, ``""`` for none in particular, None for a message no IP can take
    today, held until ``hold_until``) and mark the rest
    ``sending``. Returns the claimed rows and the outcomes of the suppressed ones.

    Raises
    ------
    StoreError
        The store cannot be written.
    """
    due = store.query(load_sql("send_due"), {"c": campaign.campaign_id, "now": now, "n": n})
    if due.is_empty():
        return due, []
    flags = is_suppressed(store, due["recipient"].to_list(), list=campaign.list_name,
                          contact_ids=due["contact_id"].to_list())
    extra = set(also_suppressed)
    stopped = (flags["suppressed"] | due["contact_id"].is_in(list(extra))).to_list()
    reasons = [r or "unsubscribe (tracking spool)" for r in flags["reason"].to_list()]
    suppressed = [Outcome(k, m, "suppressed", detail=f"suppressed at send time: {r}", event="dropped",
                          event_fields={"diagnostic": f"suppressed: {r}"})
                  for k, m, s, r in zip(due["ledger_key"], due["message_id"], stopped, reasons, strict=True) if s]
    go = due.filter(~pl.Series(stopped))
    go = go.with_columns(sending_ip=pl.Series(allocate(len(go)), dtype=pl.Utf8))
    held = go.filter(pl.col("sending_ip").is_null())
    chosen = go.filter(pl.col("sending_ip").is_not_null()).with_columns(sending_ip=pl.col("sending_ip").replace("", None))
    with store.writer() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            _apply(con, suppressed, now, campaign)
            if len(held) and hold_until is not None:
                con.register("held", held.select("ledger_key").to_arrow())
                con.execute("UPDATE send_ledger SET next_attempt_at = $t, detail = 'held: the pool''s warm-up caps are reached "
                            "for today' FROM held WHERE send_ledger.ledger_key = held.ledger_key", {"t": hold_until})
                con.unregister("held")
            con.register("chosen", chosen.select("ledger_key", "sending_ip").to_arrow())
            con.execute("UPDATE send_ledger SET status = 'sending', claimed_at = $now, run_id = $run, "
                        "attempts = attempts + 1, sending_ip = chosen.sending_ip FROM chosen "
                        "WHERE send_ledger.ledger_key = chosen.ledger_key", {"now": now, "run": run_id})
            con.unregister("chosen")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return chosen.with_columns(attempts=pl.col("attempts") + 1), suppressed


def settle(store: Store, outcomes: Sequence[Outcome], now: datetime, campaign: Campaign) -> None:
    """Record outcomes and their events in one transaction.

    Raises
    ------
    StoreError
        The store cannot be written.
    """
    if not outcomes:
        return
    with store.writer() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            _apply(con, outcomes, now, campaign)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def _apply(con: object, outcomes: Sequence[Outcome], now: datetime, campaign: Campaign) -> None:
    from workbench.sending.events import insert_events

    if not outcomes:
        return
    frame = pl.DataFrame(
        {"ledger_key": [o.ledger_key for o in outcomes], "status": [o.status for o in outcomes],
         "smtp_code": [o.smtp_code for o in outcomes], "detail": [o.detail for o in outcomes],
         "next_attempt_at": [o.next_attempt_at for o in outcomes]},
        schema={"ledger_key": pl.Utf8, "status": pl.Utf8, "smtp_code": pl.Int16, "detail": pl.Utf8,
                "next_attempt_at": pl.Datetime("us")},
    )
    con.register("outcomes", frame.to_arrow())  # type: ignore[attr-defined]
    try:
        con.execute(load_sql("send_settle"), {"now": now})  # type: ignore[attr-defined]
    finally:
        con.unregister("outcomes")  # type: ignore[attr-defined]
    insert_events(con, [o for o in outcomes if o.event], now, campaign)


def recover(store: Store, campaign: Campaign, record: Record | None, now: datetime) -> dict[str, int]:
    """Settle the messages a dead sender left in flight (``sending``, and ``uncertain`` ones
    when a record can now decide): in the record -> sent; not in it -> planned again; no
    record -> uncertain. Returns the counts.

    Raises
    ------
    StoreError
        The store cannot be written.
    """
    statuses = ["sending", "uncertain"] if record is not None else ["sending"]
    rows = store.query("SELECT ledger_key, message_id, recipient, contact_id, sending_ip, status FROM send_ledger "
                       "WHERE campaign_id = $c AND status IN (SELECT unnest($s))", {"c": campaign.campaign_id, "s": statuses})
    if rows.is_empty():
        return {"reconciled": 0, "resent": 0, "uncertain": 0}
    delivered = record.delivered(rows["message_id"].to_list()) if record is not None else set()
    outcomes = []
    for key, mid, status in rows.select("ledger_key", "message_id", "status").iter_rows():
        if mid in delivered:
            outcomes.append(Outcome(key, mid, "sent", detail=f"reconciled: found in {record.describe()}",  # type: ignore[union-attr]
                                    event="injected", event_fields={"diagnostic": "reconciled after a sender stop"}))
        elif record is not None:
            outcomes.append(Outcome(key, mid, "planned", detail=f"reconciled: not in {record.describe()}, sent again"))
        elif status == "sending":
            outcomes.append(Outcome(key, mid, "uncertain", detail="in flight when the sender stopped; no relay record "
                                    "to check it against (`workbench send --resolve-uncertain`)"))
    settle(store, outcomes, now, campaign)
    counts = {"reconciled": len(delivered), "resent": sum(o.status == "planned" for o in outcomes),
              "uncertain": sum(o.status == "uncertain" for o in outcomes)}
    return counts


def progress(store: Store, campaign_id: str) -> pl.DataFrame:
    """Messages per status and provider for a campaign.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    return store.query("SELECT mailbox_provider, status, count(*) AS messages FROM send_ledger WHERE campaign_id = $c "
                       "GROUP BY ALL ORDER BY mailbox_provider, status", {"c": campaign_id})
