"""The tracking endpoint: open pixel, click redirect, unsubscribe page and RFC 8058 one-click.

========================  ==========================================================
``GET /o/<token>.gif``    a 1x1 GIF; an ``opened`` event (Apple MPP flagged)
``GET|HEAD /c/<token>``   302 to the URL signed in the token (only URLs we put in a
                          message: no open redirect); a ``clicked`` event (scanners flagged)
``GET /u/<token>``        a page with one button that POSTs the one-click form
``POST /u/<token>``       RFC 8058: body ``List-Unsubscribe=One-Click`` (urlencoded or
                          multipart); unsubscribes at once and answers 200 — no redirect, no
                          cookie, no further confirmation step
``GET /healthz``          ``ok``
========================  ==========================================================

A forged or altered token gets a 404 and records nothing. Events go to the spool
(:class:`~workbench.tracking.spool.Spool`), never straight to the store, so a busy store
loses nothing; ``on_unsubscribe`` is called for each unsubscribe (``workbench track serve``
uses it to load the spool into the store at once, which suppresses the contact).
"""

from __future__ import annotations

import base64
import html
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from workbench.tracking.machine import machine_click, machine_open
from workbench.tracking.spool import Spool
from workbench.tracking.tokens import BadToken, Ref, Tokens

__all__ = ["PIXEL", "create_app"]

PIXEL = base64.b64decode(b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
MAX_FORM_BYTES = 4096

_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:Arial,sans-serif;max-width:32em;margin:3em auto;color:#333}}button{{font-size:1em;padding:.6em 1.2em}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


def _client(request: Request, trust_proxy: bool) -> str | None:
    if trust_proxy and request.headers.get("x-forwarded-for"):
        return request.headers["x-forwarded-for"].split(",")[0].strip()
    return request.client.host if request.client else None


def create_app(tokens: Tokens, spool: Spool, *, organisation: str = "us", trust_proxy: bool = False,
               on_unsubscribe: Callable[[Ref], None] | None = None) -> Starlette:
    """The ASGI app (Starlette) over ``tokens`` and ``spool``."""

    def record(kind: str, ref: Ref, request: Request, **fields: Any) -> None:
        spool.append({"ts": datetime.now(UTC).replace(tzinfo=None), "event_type": kind, "event_id": uuid.uuid4().hex,
                      "message_id": ref.message_id, "campaign_id": ref.campaign_id, "contact_id": ref.contact_id,
                      "list_name": ref.list_name or None, "user_agent": request.headers.get("user-agent"),
                      "client_ip": _client(request, trust_proxy), **fields})

    def parse(kind: str, token: str) -> tuple[Ref, str | None] | None:
        try:
            return tokens.parse(kind, token)
        except BadToken:
            return None

    def invalid() -> Response:
        return PlainTextResponse("This link is not valid.", status_code=404, headers=NO_STORE)

    async def open_pixel(request: Request) -> Response:
        found = parse("open", request.path_params["token"])
        if found is None:
            return invalid()
        ua, ip = request.headers.get("user-agent"), _client(request, trust_proxy)
        record("opened", found[0], request, is_machine=machine_open(ua, ip))
        return Response(PIXEL, media_type="image/gif", headers=NO_STORE)

    async def click(request: Request) -> Response:
        found = parse("click", request.path_params["token"])
        if found is None or not (found[1] or "").startswith(("https://", "http://")):
            return invalid()
        ref, url = found
        elapsed = time.time() - ref.sent_at if ref.sent_at else None
        ua, ip = request.headers.get("user-agent"), _client(request, trust_proxy)
        record("clicked", ref, request, url=url, is_machine=machine_click(ua, ip, elapsed, request.method))
        return RedirectResponse(str(url), status_code=302, headers=NO_STORE)

    async def unsubscribe_page(request: Request) -> Response:
        token = request.path_params["token"]
        found = parse("unsubscribe", token)
        if found is None:
            return invalid()
        what = html.escape(found[0].list_name or "these emails")
        body = (f"<p>Stop receiving {what} from {html.escape(organisation)}?</p>"
                f'<form method="post" action="/u/{html.escape(token)}">'
                '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
                "<button type=\"submit\">Unsubscribe</button></form>")
        return HTMLResponse(_PAGE.format(title="Unsubscribe", body=body), headers=NO_STORE)

    async def unsubscribe(request: Request) -> Response:
        found = parse("unsubscribe", request.path_params["token"])
        if found is None:
            return invalid()
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            return PlainTextResponse("Request too large.", status_code=413, headers=NO_STORE)
        form = await request.form(max_files=0, max_fields=8)
        try:
            if form.get("List-Unsubscribe") != "One-Click":
                return PlainTextResponse("Expected List-Unsubscribe=One-Click (RFC 8058).", status_code=400, headers=NO_STORE)
        finally:
            await form.close()
        ref = found[0]
        record("unsubscribed", ref, request)
        if on_unsubscribe is not None:
            on_unsubscribe(ref)
        what = html.escape(ref.list_name or "these emails")
        page = _PAGE.format(title="You are unsubscribed", body=f"<p>You will not receive {what} any more.</p>")
        return HTMLResponse(page, headers=NO_STORE)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/o/{token}.gif", open_pixel, methods=["GET"]),
        Route("/c/{token}", click, methods=["GET", "HEAD"]),
        Route("/u/{token}", unsubscribe_page, methods=["GET"]),
        Route("/u/{token}", unsubscribe, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    return Starlette(routes=routes)
