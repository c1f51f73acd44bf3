"""A contact who unsubscribes while a campaign is going out gets nothing more.

The tracking app runs for real (uvicorn on 127.0.0.1) and writes to the spool the sender
reads; in the middle of the campaign, the contact clicks the one-click unsubscribe of last
week's newsletter (an RFC 8058 POST over HTTP). The sender, which re-checks every message
just before it goes out, does not send theirs; once the spool is loaded, the next campaign's
plan suppresses them too. (Complaints arriving mid-campaign: tests/test_sending_engine.py.)
"""

from __future__ import annotations

import time

import httpx
import polars as pl

from tests.sending_helpers import contacts, send_config
from workbench.sending import RecordingTransport, Reply, prepare, send
from workbench.store.loading import load_paths
from workbench.tracking.app import create_app
from workbench.tracking.serve import ThreadedServer, spool_dir
from workbench.tracking.spool import Spool
from workbench.tracking.tokens import Ref, Tokens


def test_a_one_click_unsubscribe_mid_campaign_stops_the_next_message(send_store, sink, small_world):
    people = contacts(small_world, 40).sort("contact_id")
    victim = people.row(len(people) - 1, named=True)  # the ledger sends in contact order: theirs is last
    config = send_config(send_store, sink, batch_size=5)
    assert config.spool_dir == spool_dir(send_store.settings)
    keys = list(config.tracking_keys)
    spool = Spool(spool_dir(send_store.settings))
    posted: list[httpx.Response] = []
    with ThreadedServer(create_app(Tokens(keys, "http://unused"), spool, organisation="Brightmart")) as server:
        last_week = Ref("<w47.1@news.brightmart.example>", "news-w47", victim["contact_id"], "newsletter",
                        int(time.time()) - 7 * 86400)
        url = Tokens(keys, server.url).unsubscribe_url(last_week)

        def reply(recipient: str) -> Reply:
            if not posted:  # while the first message goes out, the victim unsubscribes
                with httpx.Client(follow_redirects=False) as client:
                    posted.append(client.post(url, data={"List-Unsubscribe": "One-Click"}))
            return Reply(250, "2.0.0 OK", "sent")

        transport = RecordingTransport(reply=reply)
        prepared = prepare(send_store, "news-w48", segment=people, template="newsletter", stream="newsletter")
        assert prepared.plan.summary()["planned"] == 40  # not suppressed when planned
        result = send(send_store, prepared, config, transport=transport)
    spool.close()

    assert posted and posted[0].status_code == 200 and "set-cookie" not in posted[0].headers
    delivered = [recipient for _, _, recipient, _ in transport.sent]
    assert victim["email"] not in delivered
    assert len(delivered) == 39 and result.sent == 39 and result.counts["suppressed"] == 1
    ledger = send_store.query("SELECT contact_id, status, detail FROM send_ledger WHERE campaign_id = 'news-w48'")
    row = ledger.filter(pl.col("contact_id") == victim["contact_id"]).row(0, named=True)
    assert row["status"] == "suppressed" and "unsubscribe" in row["detail"]

    # the spool loaded (as `workbench track serve` does): the next campaign does not even plan them
    load_paths(send_store, [spool_dir(send_store.settings)])
    following = prepare(send_store, "news-w49", segment=people, template="newsletter", stream="newsletter")
    assert following.plan.summary()["suppressed"] == 1
    again = RecordingTransport()
    send(send_store, following, config.with_(spool_dir=None), transport=again)
    assert victim["email"] not in [recipient for _, _, recipient, _ in again.sent]
    assert len(again.sent) == 39
