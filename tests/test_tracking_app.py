"""The tracking app over real HTTP: uvicorn on 127.0.0.1, requests with httpx.

Open pixel, click redirect (only to URLs signed into the token), the unsubscribe page and
the RFC 8058 one-click POST (form body ``List-Unsubscribe=One-Click``, urlencoded or
multipart; 200, no cookie, no redirect, no confirmation step); forged and tampered tokens
are refused and record nothing; the spool loads into the store and suppresses at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from workbench.audience import suppression
from workbench.store import Store
from workbench.store.loading import load_paths
from workbench.tracking.app import PIXEL, create_app
from workbench.tracking.serve import ThreadedServer
from workbench.tracking.spool import Spool
from workbench.tracking.tokens import Ref, Tokens

KEYS = [b"key-one"]
REF = Ref("<m1.news@news.brightmart.example>", "news-track", "C0000042", "newsletter", int(time.time()) - 3600)
TARGET = "https://shop.brightmart.example/p/linen-shirt?utm_source=newsletter&utm_campaign=news-track"
SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"


@pytest.fixture
def tracking(tmp_path: Path) -> Iterator[tuple[ThreadedServer, Tokens, Spool, list[Ref]]]:
    spool = Spool(tmp_path / "spool")
    unsubscribed: list[Ref] = []
    with ThreadedServer(create_app(Tokens(KEYS, "http://unused"), spool, organisation="Brightmart",
                           on_unsubscribe=unsubscribed.append)) as server:
        yield server, Tokens(KEYS, server.url), spool, unsubscribed
    spool.close()


def _events(spool: Spool) -> list[dict[str, object]]:
    spool.close()
    rows = []
    for path in sorted(spool.folder.glob("track-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return rows


def test_open_pixel_records_the_open_and_flags_apple_mpp(tracking):
    _server, tokens, spool, _ = tracking
    with httpx.Client() as client:
        person = client.get(tokens.open_url(REF), headers={"user-agent": SAFARI})
        proxy = client.get(tokens.open_url(REF), headers={"user-agent": "Mozilla/5.0"})
    assert person.status_code == 200 and person.content == PIXEL and person.headers["content-type"] == "image/gif"
    assert "no-store" in person.headers["cache-control"] and "set-cookie" not in person.headers
    assert proxy.status_code == 200
    opens = _events(spool)
    assert [e["event_type"] for e in opens] == ["opened", "opened"]
    assert [e["is_machine"] for e in opens] == [False, True]
    assert opens[0]["message_id"] == REF.message_id and opens[0]["contact_id"] == REF.contact_id
    assert opens[0]["client_ip"] == "127.0.0.1" and opens[0]["user_agent"] == SAFARI


def test_click_redirects_to_the_signed_url_only(tracking):
    server, tokens, spool, _ = tracking
    url = tokens.click_url(REF, TARGET)
    with httpx.Client(follow_redirects=False) as client:
        ok = client.get(url, headers={"user-agent": SAFARI})
        head = client.head(url, headers={"user-agent": SAFARI})
        token = url.rsplit("/", 1)[1]
        payload, _, signature = token.rpartition(".")
        other = Tokens(KEYS, server.url).token("click", REF, "https://evil.example/phish")
        swapped = client.get(f"{server.url}/c/{other.rpartition('.')[0]}.{signature}")
        tampered = client.get(f"{server.url}/c/{payload[:-2]}xx.{signature}")
        forged = client.get(Tokens([b"not-our-key"], server.url).click_url(REF, "https://evil.example/"))
        wrong_kind = client.get(f"{server.url}/c/{tokens.token('open', REF)}")
    assert ok.status_code == 302 and ok.headers["location"] == TARGET
    assert "set-cookie" not in ok.headers
    assert head.status_code == 302
    for refused in (swapped, tampered, forged, wrong_kind):
        assert refused.status_code == 404 and "location" not in refused.headers
    clicks = _events(spool)
    assert len(clicks) == 2  # the refused requests recorded nothing
    assert [c["is_machine"] for c in clicks] == [False, True]  # a HEAD is a scanner's
    assert clicks[0]["url"] == TARGET


def test_a_click_seconds_after_the_send_is_a_scanner(tracking):
    _server, tokens, spool, _ = tracking
    fresh = Ref(REF.message_id, REF.campaign_id, REF.contact_id, REF.list_name, int(time.time()))
    with httpx.Client(follow_redirects=False) as client:
        client.get(tokens.click_url(fresh, TARGET), headers={"user-agent": SAFARI})
        client.get(tokens.click_url(REF, TARGET), headers={"user-agent": "Mozilla/5.0 (compatible; Barracuda)"})
    assert [c["is_machine"] for c in _events(spool)] == [True, True]


def test_unsubscribe_page_offers_one_button_and_changes_nothing(tracking):
    _server, tokens, spool, unsubscribed = tracking
    with httpx.Client() as client:
        page = client.get(tokens.unsubscribe_url(REF))
    assert page.status_code == 200 and 'method="post"' in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text and "newsletter" in page.text
    assert _events(spool) == [] and unsubscribed == []  # a GET (a link scanner) unsubscribes nobody


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_unsubscribes_at_once(tracking, encoding):
    _server, tokens, spool, unsubscribed = tracking
    with httpx.Client(follow_redirects=False) as client:
        if encoding == "urlencoded":
            reply = client.post(tokens.unsubscribe_url(REF), content=b"List-Unsubscribe=One-Click",
                                headers={"content-type": "application/x-www-form-urlencoded"})
        else:
            reply = client.post(tokens.unsubscribe_url(REF), files={"List-Unsubscribe": (None, "One-Click")})
    assert reply.status_code == 200
    assert "location" not in reply.headers and "set-cookie" not in reply.headers
    assert "unsubscribed" in reply.text.lower() and "<form" not in reply.text  # no further step
    assert [r.contact_id for r in unsubscribed] == [REF.contact_id]
    (event,) = _events(spool)
    assert event["event_type"] == "unsubscribed" and event["campaign_id"] == "news-track"


def test_one_click_post_without_the_rfc_8058_body_is_refused(tracking):
    server, tokens, spool, unsubscribed = tracking
    with httpx.Client() as client:
        empty = client.post(tokens.unsubscribe_url(REF), content=b"", headers={"content-type": "application/x-www-form-urlencoded"})
        wrong = client.post(tokens.unsubscribe_url(REF), data={"List-Unsubscribe": "Yes"})
        forged = client.post(Tokens([b"x"], server.url).unsubscribe_url(REF), data={"List-Unsubscribe": "One-Click"})
        huge = client.post(tokens.unsubscribe_url(REF), content=b"List-Unsubscribe=One-Click&x=" + b"a" * 10_000,
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert (empty.status_code, wrong.status_code, forged.status_code, huge.status_code) == (400, 400, 404, 413)
    assert unsubscribed == [] and _events(spool) == []


def test_health(tracking):
    server, *_ = tracking
    with httpx.Client() as client:
        assert client.get(f"{server.url}/healthz").text == "ok"
        assert client.get(f"{server.url}/o/garbage.gif").status_code == 404


def test_spool_loads_into_events_and_the_unsubscribe_suppresses(tracking, send_store):
    _server, tokens, spool, _ = tracking
    store: Store = send_store
    # the contact was sent the campaign: the suppression finds the address through the injection
    store.execute("INSERT INTO campaigns (campaign_id, stream) VALUES ('news-track', 'newsletter')")
    store.execute("INSERT INTO events (ts, event_type, message_id, campaign_id, contact_id, recipient, source, source_file, "
                  "source_key) VALUES (now()::TIMESTAMP - INTERVAL 1 HOUR, 'injected', ?, 'news-track', ?, 'ana@example.com', "
                  "'test', 'test', 1)", [REF.message_id, REF.contact_id])
    with httpx.Client(follow_redirects=False) as client:
        client.get(tokens.open_url(REF), headers={"user-agent": SAFARI})
        client.get(tokens.click_url(REF, TARGET), headers={"user-agent": SAFARI})
        client.post(tokens.unsubscribe_url(REF), data={"List-Unsubscribe": "One-Click"})
    spool.close()
    summary = load_paths(store, [spool.folder])
    assert summary.rows_loaded == 3 and summary.rows_quarantined == 0
    events = store.query("SELECT event_type, is_machine, url FROM events WHERE source = 'generic' ORDER BY ts")
    assert events["event_type"].to_list() == ["opened", "clicked", "unsubscribed"]
    assert events["url"][1] == TARGET and events["is_machine"].to_list()[:2] == [False, False]
    flags = suppression.is_suppressed(store, ["ana@example.com"], list="newsletter")
    assert flags["suppressed"][0] and flags["reason"][0] == "unsubscribe"
    assert not suppression.is_suppressed(store, ["ana@example.com"], list=None)["suppressed"][0]  # transactional still goes
    assert load_paths(store, [spool.folder]).rows_loaded == 0  # a reload adds nothing
