"""The demo's send step on the small world: a campaign to the embedded sink, recipients
reading it through the tracking app, the results loaded; a second run sends nothing."""

from __future__ import annotations

import io

import polars as pl
from rich.console import Console

from tests.sending_helpers import TRACE_KEY, maildir_messages
from workbench.audience import suppression
from workbench.sending.demo import BIND, demo_campaign, run_send_step


def test_send_step_sends_reads_and_loads(send_store, small_world):
    out = io.StringIO()
    console = Console(file=out, width=200)
    done = run_send_step(send_store.settings, send_store, small_world, console, limit=150, trace_key=TRACE_KEY, seed=3,
                         unsubscribe_rate=0.05)
    campaign = demo_campaign()
    assert done["campaign"] == campaign and done["sent"] == 150
    assert done["opens"] > 10 and done["clicks"] >= 1 and done["machine_opens"] >= 1
    assert f"{campaign}: 150 sent to the sink" in out.getvalue()
    messages = maildir_messages(send_store.settings.data_dir / "sink" / "Maildir")
    assert len(messages) == 150
    events = send_store.query("SELECT event_type, count(*) AS n, count(DISTINCT message_id) AS messages, "
                              "bool_or(is_machine) AS machine FROM events WHERE campaign_id = $c OR message_id IN "
                              "(SELECT message_id FROM send_ledger WHERE campaign_id = $c) GROUP BY 1", {"c": campaign})
    counts = {r["event_type"]: r for r in events.iter_rows(named=True)}
    assert counts["injected"]["n"] == 150 and counts["delivered"]["n"] == 150
    assert counts["opened"]["n"] == done["opens"] + done["machine_opens"] and counts["opened"]["machine"]
    assert counts["clicked"]["n"] == done["clicks"]
    ips = set(send_store.query("SELECT sending_ip FROM send_ledger WHERE campaign_id = $c", {"c": campaign})["sending_ip"])
    assert ips <= set(BIND)
    assert done["unsubscribes"] >= 1 and counts["unsubscribed"]["n"] == done["unsubscribes"]
    unsubscribed = send_store.query("SELECT recipient FROM send_ledger WHERE contact_id IN (SELECT contact_id FROM "
                                    "events WHERE event_type = 'unsubscribed')")
    flags = suppression.is_suppressed(send_store, unsubscribed["recipient"].to_list(), list="newsletter")
    assert len(flags) == done["unsubscribes"] and flags["suppressed"].all()  # suppressed for the newsletter
    again = run_send_step(send_store.settings, send_store, small_world, console, limit=150, trace_key=TRACE_KEY, seed=3)
    assert again["sent"] == 0 and again["opens"] == 0  # the ledger holds the campaign: nothing twice
    assert len(maildir_messages(send_store.settings.data_dir / "sink" / "Maildir")) == 150
    assert pl.DataFrame(send_store.query("SELECT * FROM send_runs")).height == 2
