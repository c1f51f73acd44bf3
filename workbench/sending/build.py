"""From a planned ledger row to signed message bytes: render, track, compose, sign.

:class:`MessageBuilder` is pure (no store, no network): a template, a campaign, DKIM keys
and tracking keys in; one :class:`Outgoing` per contact out. It is built from a picklable
:class:`BuildSpec`, so worker processes (:func:`init_worker`, :func:`build_batch`) can share
the CPU work of a large send.

Every message gets the headers of issue 5's trace contract (``Feedback-ID``,
``X-Workbench-Trace``, a VERP return path on the bounce domain) and, for marketing mail,
``List-Unsubscribe`` (mailto + https) with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``.
With a tracking URL, links become signed click links and an open pixel is added.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from workbench.auth.dkim_keys import DkimKey
from workbench.errors import ConfigError, SendError
from workbench.feedback.trace import feedback_id, trace_header, verp_address
from workbench.sending.campaign import Campaign
from workbench.sending.compose import MessageSpec, compose
from workbench.sending.signing import DkimSigner
from workbench.sending.templates import Template, compile_template
from workbench.tracking.tokens import Ref, Tokens

__all__ = ["BuildSpec", "MessageBuilder", "Outgoing", "Planned", "build_batch", "init_worker", "track_html",
           "track_text"]

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_TEXT_URL = re.compile(r"""https?://[^\s<>()\[\]"']+""")


@dataclass(frozen=True)
class Planned:
    """One message to build: a ledger row."""

    message_id: str
    contact_id: str
    recipient: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Outgoing:
    """A built message (``error`` set, and no data, when it could not be built)."""

    message_id: str
    sender: str
    recipient: str
    data: bytes = b""
    error: str | None = None


@dataclass(frozen=True)
class BuildSpec:
    """Everything a builder needs, picklable (keys as PEM)."""

    campaign: Campaign
    template: Template
    keys: tuple[tuple[str, str, bytes], ...]
    tracking_url: str | None = None
    tracking_keys: tuple[bytes, ...] = ()
    trace_key: bytes | None = None

    @classmethod
    def of(cls, campaign: Campaign, template: Template, keys: Sequence[DkimKey], *, tracking_url: str | None = None,
           tracking_keys: Sequence[bytes] = (), trace_key: bytes | None = None) -> BuildSpec:
        pems = tuple((k.domain, k.selector, k.pem()) for k in keys)
        return cls(campaign, template, pems, tracking_url, tuple(tracking_keys), trace_key)

    def dkim_keys(self) -> list[DkimKey]:
        out = []
        for domain, selector, pem in self.keys:
            private = serialization.load_pem_private_key(pem, password=None)
            assert isinstance(private, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
            out.append(DkimKey(domain, selector, private))
        return out


def track_html(html: str, ref: Ref, tokens: Tokens, keep: set[str]) -> str:
    """Links (http/https, except those in ``keep``) through signed click URLs, and an open
    pixel before ``</body>``."""

    def link(match: re.Match[str]) -> str:
        url = htmllib.unescape(match[3])
        if url in keep:
            return match[0]
        return f"{match[1]}{match[2]}{htmllib.escape(tokens.click_url(ref, url))}{match[2]}"

    tracked = _HREF.sub(link, html)
    pixel = f'<img src="{tokens.open_url(ref)}" width="1" height="1" alt="" style="display:block;border:0">'
    end = tracked.lower().rfind("</body>")
    return tracked[:end] + pixel + tracked[end:] if end >= 0 else tracked + pixel


def track_text(text: str, ref: Ref, tokens: Tokens, keep: set[str]) -> str:
    """URLs of the text part (except those in ``keep``) through signed click URLs."""
    return _TEXT_URL.sub(lambda m: m[0] if m[0] in keep else tokens.click_url(ref, m[0]), text)


class MessageBuilder:
    """Builds the messages of one send (see the module docstring).

    Raises
    ------
    ConfigError
        The template is not valid Jinja, or a key cannot be used.
    """

    def __init__(self, spec: BuildSpec) -> None:
        self.spec = spec
        self.campaign = spec.campaign
        self.template = compile_template(spec.template)
        self.signer = DkimSigner(spec.dkim_keys())
        self.tokens = Tokens(list(spec.tracking_keys), spec.tracking_url) if spec.tracking_url else None
        c = self.campaign
        self.feedback_id = feedback_id(c.campaign_id, c.stream, c.company, c.sender_id)
        self.list_id = f"{c.list_name} <{c.list_name}.{c.sending_domain}>" if c.list_name else None

    def build(self, row: Planned, now: datetime) -> Outgoing:
        """One signed message; a row that cannot be built comes back with ``error``."""
        c, key = self.campaign, self.spec.trace_key
        try:
            sender = verp_address(c.campaign_id, row.contact_id, c.return_domain, key=key)
        except ValueError as exc:
            return Outgoing(row.message_id, "", row.recipient, error=str(exc))
        try:
            ref = Ref(row.message_id, c.campaign_id, row.contact_id, c.list_name or "", int(now.timestamp()))
            unsubscribe: list[str] = []
            if c.list_name:
                unsubscribe.append("mailto:" + verp_address(c.campaign_id, row.contact_id, c.return_domain, key=key,
                                                            local="unsubscribe") + "?subject=unsubscribe")
                if self.tokens:
                    unsubscribe.append(self.tokens.unsubscribe_url(ref))
            visible = unsubscribe[-1] if unsubscribe else ""
            values = {**row.attributes, "contact_id": row.contact_id, "email": row.recipient,
                      "campaign_id": c.campaign_id, "unsubscribe_url": visible, "message_id": row.message_id,
                      "sending_domain": c.sending_domain, "list_name": c.list_name or ""}
            rendered = self.template.render(values)
            html, text = rendered.html, rendered.text
            if self.tokens:
                keep = {u for u in unsubscribe if u.startswith("http")}
                html = track_html(html, ref, self.tokens, keep)
                text = track_text(text, ref, self.tokens, keep)
            spec = MessageSpec(
                message_id=row.message_id, from_addr=c.from_addr, to=row.recipient, subject=rendered.subject,
                html=html, text=text, date=now, return_path=sender,
                from_name=c.from_name or self.spec.template.from_name, reply_to=c.reply_to,
                list_unsubscribe=unsubscribe, one_click=any(u.startswith("https:") for u in unsubscribe),
                list_id=self.list_id, feedback_id=self.feedback_id,
                trace=trace_header(c.campaign_id, row.contact_id, c.list_name, key=key),
                extra_headers=c.extra_headers,
            )
            composed = compose(spec)
        except (ConfigError, SendError, ValueError) as exc:
            return Outgoing(row.message_id, sender, row.recipient, error=str(exc))
        signatures = self.signer.sign(composed.headers, composed.body)
        return Outgoing(row.message_id, sender, composed.recipient, composed.as_bytes(signatures))


def planned_rows(rows: Sequence[tuple[str, str, str, str | None]]) -> list[Planned]:
    """``(message_id, contact_id, recipient, attributes JSON)`` tuples as :class:`Planned`."""
    return [Planned(m, c, r, json.loads(a) if a else {}) for m, c, r, a in rows]


_WORKER: MessageBuilder | None = None


def init_worker(spec: BuildSpec) -> None:
    """Process-pool initialiser: one builder per worker process."""
    global _WORKER
    _WORKER = MessageBuilder(spec)


def build_batch(rows: Sequence[tuple[str, str, str, str | None]], now: datetime) -> list[Outgoing]:
    """Build a batch in a worker process (after :func:`init_worker`)."""
    if _WORKER is None:
        raise RuntimeError("build_batch runs in a worker initialised by init_worker")
    return [_WORKER.build(row, now) for row in planned_rows(rows)]
