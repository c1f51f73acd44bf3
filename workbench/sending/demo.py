"""The demo's send step: a real campaign to the embedded sink, recipients reading it, events loaded.

1. start the embedded sink (``data/sink/Maildir``) and the tracking app (a free local port);
2. send today's newsletter (``news-<YYYYMMDD>``) to 1 000 contacts of the world's
   newsletter list: DKIM-signed with the world's ``news.`` key, over the dedicated pool
   (``127.0.0.10`` / ``127.0.0.11`` stand for 192.0.2.10 / .11), shaped per provider;
3. let seeded "recipients" read their mail over HTTP: Apple Mail's privacy proxy fetches
   most Apple pixels, people open, some click, a few unsubscribe with the one-click POST;
4. load what came back: the sink's deliveries and the tracking spool (suppressions follow).

A second demo run the same day sends nothing again (the ledger holds the campaign).
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from workbench.config import Settings
from workbench.sending.api import prepare, send
from workbench.sending.config import SendConfig, relay_from
from workbench.sending.records import MaildirRecord
from workbench.sending.sink import Sink, header_message_id
from workbench.store import Store
from workbench.store.loading import load_paths
from workbench.tracking.app import create_app
from workbench.tracking.serve import ThreadedServer, spool_dir
from workbench.tracking.spool import Spool
from workbench.tracking.tokens import Tokens, tracking_keys

__all__ = ["BIND", "demo_campaign", "run_send_step"]

#: the world's dedicated IPs and the loopback addresses that stand for them
BIND = {"192.0.2.10": "127.0.0.10", "192.0.2.11": "127.0.0.11"}
_PIXEL = re.compile(rb'src="(http://127\.0\.0\.1:\d+/o/[^"]+)"')
_CLICK = re.compile(rb'href="(http://127\.0\.0\.1:\d+/c/[^"]+)"')
_ONE_CLICK = re.compile(rb"<(http://127\.0\.0\.1:\d+/u/[^>]+)>")
SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"


def demo_campaign(today: datetime | None = None) -> str:
    """Today's demo campaign id."""
    return f"news-{(today or datetime.now(UTC)):%Y%m%d}"


def _read(messages: list[bytes], seed: int, unsubscribe_rate: float) -> dict[str, int]:
    """Seeded recipients open, click and unsubscribe through the tracking app."""
    rng = random.Random(seed)
    counts = {"opens": 0, "machine_opens": 0, "clicks": 0, "unsubscribes": 0}
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        for data in messages:
            body = data.replace(b"=\r\n", b"").replace(b"=3D", b"=")  # soft breaks of quoted-printable
            pixel, click, unsub = _PIXEL.search(body), _CLICK.search(body), _ONE_CLICK.search(data.replace(b"\r\n ", b" "))
            apple = b"@icloud.com" in data[:2000] or b"@me.com" in data[:2000]
            if pixel and apple and rng.random() < 0.9:
                client.get(pixel[1].decode(), headers={"user-agent": "Mozilla/5.0"})  # Apple MPP prefetch
                counts["machine_opens"] += 1
            if pixel and rng.random() < 0.3:
                client.get(pixel[1].decode(), headers={"user-agent": SAFARI})
                counts["opens"] += 1
                if click and rng.random() < 0.15:
                    client.get(click[1].decode(), headers={"user-agent": SAFARI})
                    counts["clicks"] += 1
            if unsub and rng.random() < unsubscribe_rate:
                client.post(unsub[1].decode(), data={"List-Unsubscribe": "One-Click"})
                counts["unsubscribes"] += 1
    return counts


def run_send_step(settings: Settings, store: Store, raw: Path, console: Console, *, limit: int = 1000,
                  trace_key: bytes | None = None, seed: int = 42, unsubscribe_rate: float = 0.006) -> dict[str, Any]:
    """Send the demo campaign, simulate reading, load the results (see the module docstring)."""
    campaign = demo_campaign()
    sink_dir = settings.data_dir / "sink" / "Maildir"
    spool = Spool(spool_dir(settings))
    keys = tracking_keys(settings.data_dir / "keys")
    before = set(MaildirRecord(sink_dir).message_ids()) if sink_dir.is_dir() else set()
    with Sink(sink_dir) as sink, ThreadedServer(create_app(Tokens(keys, "http://unused"), spool,
                                                           organisation="Brightmart")) as tracking:
        config = SendConfig.load(settings, relay=relay_from(f"127.0.0.1:{sink.port}"), bind=BIND,
                                 tracking_url=tracking.url, tracking_keys=tuple(keys), trace_key=trace_key)
        prepared = prepare(store, campaign, segment="newsletter", template="newsletter", stream="newsletter",
                           contacts=raw / "audience" / "contacts.csv", limit=limit, sender_id="bm1")
        result = send(store, prepared, config, record=MaildirRecord(sink.maildir))
        ours = set(store.query("SELECT message_id FROM send_ledger WHERE campaign_id = $c AND status = 'sent'",
                               {"c": campaign})["message_id"].to_list()) - before
        fresh = [data for data in (p.read_bytes() for p in sorted((sink_dir / "new").iterdir()))
                 if header_message_id(data) in ours]
        read = _read(fresh, seed, unsubscribe_rate)
        spool.close()
        deliveries = sink.deliveries_log
    loaded = load_paths(store, [deliveries, spool.folder])
    c = result.counts
    console.print(f"    {campaign}: {c['sent']:,} sent to the sink ({result.messages_per_second:,.0f} messages/s, "
                  f"{c['suppressed']:,} suppressed at send time, {prepared.plan.summary()['suppressed']:,} at plan time), "
                  f"each DKIM-signed by {prepared.campaign.sending_domain}; "
                  f"{read['opens']:,} opens (+{read['machine_opens']:,} Apple MPP prefetches), {read['clicks']:,} clicks, "
                  f"{read['unsubscribes']:,} one-click unsubscribes; {loaded.rows_loaded:,} events loaded", highlight=False)
    return {"campaign": campaign, **c, **read, "loaded": loaded.rows_loaded}
