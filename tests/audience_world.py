"""A hand-built audience: eight contacts with known attributes, lists, suppressions and
events, so that every segment rule has an exact expected membership (see the table)."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from workbench.audience.directory import import_contacts
from workbench.store import Store

AS_OF = datetime(2026, 6, 1)


def at(days: float, hours: float = 0) -> datetime:
    """``days`` after AS_OF (negative: before)."""
    return AS_OF + timedelta(days=days, hours=hours)


#: contact_id, email, age, country, region, lists, vip, signup_at
CONTACTS = [
    ("A", "a@x.example", "30", "FR", "Île-de-France", "newsletter", "yes", "2026-05-01"),
    ("B", "b@x.example", "25", "FR", "Île-de-France", "newsletter;promotions", None, "2025-01-01"),
    ("C", "c@x.example", "40", "DE", "Bavaria", "promotions", None, "2025-01-01"),
    ("D", "d@x.example", None, None, None, "", None, "2025-01-01"),
    ("E", "e@x.example", "34", "FR", "Île-de-France", "newsletter", None, "2025-01-01"),
    ("F", "f@x.example", "60", "FR", "Occitanie", "newsletter", None, "2025-01-01"),
    ("G", "g@x.example", "28", "FR", "Île-de-France", "newsletter", None, "2026-07-01"),
    ("H", "h@gmail.com", "45", "GB", "England", "alerts", "no", "2025-01-01"),
]
# A: opened + clicked news-1 10 days before; B: opened only by Apple MPP 10 days before, by a
# person 60 days before; C: events without contact id, recipient in capitals (promo-1);
# D: delivered 40 days before, never opened; E: opened 3 days before but suppressed
# (complaint); F: clicked 100 days before, unsubscribed from the newsletter (list
# suppression); G: signed up after AS_OF; H: events with a foreign contact id.
EVENTS = [
    # ts, event_type, message_id, campaign_id, contact_id, recipient, is_machine
    (at(-10), "injected", "m-a1", "news-1", "A", "a@x.example", None),
    (at(-10, 1), "delivered", "m-a1", "news-1", "A", "a@x.example", None),
    (at(-10, 2), "opened", "m-a1", "news-1", "A", "a@x.example", False),
    (at(-10, 3), "clicked", "m-a1", "news-1", "A", "a@x.example", False),
    (at(1), "opened", "m-a1", "news-1", "A", "a@x.example", False),  # after AS_OF: never counts
    (at(-10), "injected", "m-b1", "news-1", "B", "b@x.example", None),
    (at(-10, 1), "delivered", "m-b1", "news-1", "B", "b@x.example", None),
    (at(-10, 1.1), "opened", "m-b1", "news-1", "B", "b@x.example", True),
    (at(-60), "injected", "m-b0", "news-0", "B", "b@x.example", None),
    (at(-60, 1), "delivered", "m-b0", "news-0", "B", "b@x.example", None),
    (at(-60, 5), "opened", "m-b0", "news-0", "B", "b@x.example", False),
    (at(-5), "injected", "m-c1", "promo-1", None, "C@X.EXAMPLE", None),
    (at(-5, 1), "delivered", "m-c1", "promo-1", None, "C@X.EXAMPLE", None),
    (at(-5, 2), "opened", "m-c1", "promo-1", None, "C@X.EXAMPLE", None),
    (at(-40), "injected", "m-d1", "news-x", "D", "d@x.example", None),
    (at(-40, 1), "delivered", "m-d1", "news-x", "D", "d@x.example", None),
    (at(-3), "injected", "m-e1", "news-2", "E", "e@x.example", None),
    (at(-3, 1), "delivered", "m-e1", "news-2", "E", "e@x.example", None),
    (at(-3, 2), "opened", "m-e1", "news-2", "E", "e@x.example", False),
    (at(-100), "injected", "m-f1", "news-9", "F", "f@x.example", None),
    (at(-100, 1), "delivered", "m-f1", "news-9", "F", "f@x.example", None),
    (at(-100, 2), "clicked", "m-f1", "news-9", "F", "f@x.example", False),
    (at(-1), "opened", "m-h1", "alert-1", "esp-123", "h@gmail.com", False),
]
#: address, contact_id, scope, reason, event_at, lifted_at
SUPPRESSIONS = [
    ("e@x.example", None, "global", "complaint", at(-2), None),
    ("f@x.example", "F", "newsletter", "unsubscribe", at(-90), None),
    ("d@x.example", None, "global", "hard-bounce", datetime(2026, 3, 1), datetime(2026, 4, 1)),  # lifted
]


def contacts_frame() -> pl.DataFrame:
    return pl.DataFrame(CONTACTS, schema=["contact_id", "email", "age", "country", "region", "lists", "vip", "signup_at"],
                        orient="row")


def build(store: Store) -> Store:
    """Import the contacts (as of 2026-01-01), load the events, suppressions and campaigns."""
    report = import_contacts(store, contacts_frame(), as_of=datetime(2026, 1, 1), source="fixture")
    assert report.rejected == 0, report.rejects
    events = pl.DataFrame(EVENTS, schema=["ts", "event_type", "message_id", "campaign_id", "contact_id", "recipient", "is_machine"],
                          orient="row").with_columns(
        source=pl.lit("test"), source_file=pl.lit("t"), source_key=pl.int_range(0, len(EVENTS)).cast(pl.UInt64),
        mailbox_provider=pl.lit("other"))
    with store.writer() as con:
        con.register("f", events.to_arrow())
        cols = ", ".join(events.columns)
        con.execute(f"INSERT INTO events ({cols}) SELECT {cols} FROM f")
        con.unregister("f")
        con.execute("INSERT INTO campaigns (campaign_id, stream) VALUES ('news-1', 'newsletter'), ('news-0', 'newsletter'), "
                    "('promo-1', 'promotions'), ('news-x', 'newsletter'), ('news-2', 'newsletter'), ('news-9', 'newsletter')")
        for i, (address, cid, scope, reason, event_at, lifted) in enumerate(SUPPRESSIONS):
            con.execute("INSERT INTO suppressions (suppression_id, address, contact_id, scope, reason, source, event_at, "
                        "created_at, lifted_at) VALUES (?, ?, ?, ?, ?, 'manual', ?, ?, ?)",
                        [f"s{i}", address, cid, scope, reason, event_at, event_at, lifted])
    store.release(force=True)
    return store
