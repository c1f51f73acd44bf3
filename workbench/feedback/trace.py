"""Trace headers our sending pipeline sets, so that bounces and complaints find their way
back to the campaign, the contact and the message.

``Feedback-ID`` (Gmail's feedback loop groups complaints by it; at most four fields, the
last one the sender id)::

    Feedback-ID: news-20261120:newsletter:brightmart:bm1

``X-Workbench-Trace`` (opaque ids, signed with HMAC-SHA256 under the workbench's trace key
so that a forged report cannot suppress someone else)::

    X-Workbench-Trace: v=1; c=news-20261120; r=C0001234; l=newsletter; s=3f9a0c1d2e4b5a69

VERP return path (the bounce comes back to an address naming the campaign and contact)::

    bounce+news-20261120=C0001234=3f9a0c@news.brightmart.example

Values must not contain ``;``, ``=``, ``:`` or spaces (campaign and contact ids do not).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

__all__ = [
    "Trace",
    "feedback_id",
    "parse_feedback_id",
    "parse_trace",
    "parse_verp",
    "trace_header",
    "verp_address",
]

VERSION = "1"
_UNSAFE = re.compile(r"[;=:\s<>@]")


@dataclass(frozen=True)
class Trace:
    """What a trace header, Feedback-ID or VERP address says."""

    campaign_id: str | None = None
    contact_id: str | None = None
    list_name: str | None = None
    stream: str | None = None
    sender_id: str | None = None
    valid: bool | None = None  # None: no key to check with, or nothing signed


def _check(value: str, what: str) -> str:
    if not value or _UNSAFE.search(value):
        raise ValueError(f"{what} {value!r} is empty or holds one of ; = : < > @ or a space")
    return value


def _sign(key: bytes, text: str, length: int) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:length]


def feedback_id(campaign_id: str, stream: str, company: str, sender_id: str) -> str:
    """The ``Feedback-ID`` value ``campaign:stream:company:sender``.

    Raises
    ------
    ValueError
        A value holds a separator.
    """
    return ":".join(_check(v, n) for v, n in ((campaign_id, "campaign"), (stream, "stream"), (company, "company"),
                                               (sender_id, "sender id")))


def parse_feedback_id(value: str) -> Trace | None:
    """The fields of a ``Feedback-ID`` in our format (four fields), else ``None``."""
    parts = [p.strip() for p in (value or "").strip().split(":")]
    if len(parts) != 4 or not all(parts):
        return None
    return Trace(campaign_id=parts[0], stream=parts[1], sender_id=parts[3])


def trace_header(campaign_id: str, contact_id: str, list_name: str | None = None, *, key: bytes | None = None) -> str:
    """The ``X-Workbench-Trace`` value (signed when ``key`` is given).

    Raises
    ------
    ValueError
        A value holds a separator.
    """
    fields = f"v={VERSION}; c={_check(campaign_id, 'campaign')}; r={_check(contact_id, 'contact')}"
    if list_name:
        fields += f"; l={_check(list_name, 'list')}"
    return fields + (f"; s={_sign(key, fields, 16)}" if key else "")


def parse_trace(value: str, *, key: bytes | None = None) -> Trace | None:
    """Decode an ``X-Workbench-Trace`` value; ``valid`` says whether its signature checks
    out under ``key`` (``None`` without a key or without a signature)."""
    fields: dict[str, str] = {}
    for item in (value or "").split(";"):
        name, sep, val = item.strip().partition("=")
        if sep:
            fields[name.strip().lower()] = val.strip()
    if fields.get("v") != VERSION or not fields.get("c"):
        return None
    valid: bool | None = None
    if key is not None and "s" in fields:
        signed = value[: value.rfind("s=")].rstrip().rstrip(";").strip()
        valid = hmac.compare_digest(_sign(key, signed, 16), fields["s"])
    return Trace(campaign_id=fields.get("c"), contact_id=fields.get("r"), list_name=fields.get("l"), valid=valid)


def verp_address(campaign_id: str, contact_id: str, domain: str, *, key: bytes | None = None,
                 local: str = "bounce") -> str:
    """A VERP return path naming the campaign and contact.

    Raises
    ------
    ValueError
        A value holds a separator.
    """
    token = f"{_check(campaign_id, 'campaign')}={_check(contact_id, 'contact')}"
    if key:
        token += "=" + _sign(key, token, 6)
    return f"{local}+{token}@{domain}"


_VERP = re.compile(r"^[^+@\s]+\+([^@\s]+)@[^@\s]+$")


def parse_verp(address: str, *, key: bytes | None = None) -> Trace | None:
    """Decode a VERP return path made by :func:`verp_address`, else ``None``."""
    match = _VERP.match((address or "").strip().strip("<>"))
    if not match:
        return None
    parts = match[1].split("=")
    if len(parts) not in (2, 3) or not all(parts):
        return None
    valid: bool | None = None
    if key is not None and len(parts) == 3:
        valid = hmac.compare_digest(_sign(key, f"{parts[0]}={parts[1]}", 6), parts[2])
    return Trace(campaign_id=parts[0], contact_id=parts[1], valid=valid)
