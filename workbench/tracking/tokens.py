"""Signed tracking tokens: what an open pixel, a click link or an unsubscribe link refers to.

A token is the message reference (message id, campaign, contact, list, send time) and, for a
click, the destination URL, packed and signed with HMAC-SHA256 by :class:`itsdangerous.Signer`
(one salt per kind, so an open token is no click token). A forged or altered token fails
:meth:`Tokens.parse` with :class:`BadToken`; since the destination is inside the signed
click token, the redirect only ever goes to a URL that we put in a message (no open
redirect). Tokens carry the contact id, never the address.

The key comes from ``$WORKBENCH_TRACKING_KEY`` or ``data/keys/tracking.key`` (created on
first use, 0600); older keys listed after a comma in the variable still verify (rotation).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, Signer

from workbench.errors import ConfigError

__all__ = ["BadToken", "Ref", "Tokens", "tracking_keys"]

KINDS = ("open", "click", "unsubscribe")
_SEP = "\x1f"
MAX_TOKEN = 4096


class BadToken(ValueError):
    """A token that is malformed, forged or altered."""


@dataclass(frozen=True)
class Ref:
    """What a token refers to: one message to one contact."""

    message_id: str
    campaign_id: str
    contact_id: str
    list_name: str = ""
    sent_at: int = 0  # epoch seconds of the send (a click seconds later is a scanner's)


def tracking_keys(keys_dir: Path | None = None) -> list[bytes]:
    """The tracking keys, newest first: ``$WORKBENCH_TRACKING_KEY`` (comma-separated for a
    rotation), else ``<keys_dir>/tracking.key`` (created with 32 random bytes, mode 0600).

    Raises
    ------
    ConfigError
        Neither is set and no keys folder is given.
    """
    env = os.environ.get("WORKBENCH_TRACKING_KEY")
    if env:
        return [k.strip().encode() for k in env.split(",") if k.strip()]
    if keys_dir is None:
        raise ConfigError("no tracking key: set WORKBENCH_TRACKING_KEY or pass a keys folder")
    path = Path(keys_dir) / "tracking.key"
    if not path.is_file():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return [path.read_text(encoding="utf-8").strip().encode()]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Tokens:
    """Makes and checks tracking URLs under ``base_url`` (e.g. ``https://t.news.example``).

    Parameters
    ----------
    keys:
        Signing keys, newest first (the first signs, all verify).
    base_url:
        Where the tracking app is served, without a trailing slash.
    """

    def __init__(self, keys: list[bytes], base_url: str) -> None:
        if not keys:
            raise ConfigError("a tracking key is needed to sign tokens")
        ordered = list(reversed(keys))  # itsdangerous signs with the last key
        self.signers = {kind: Signer(ordered, salt=f"workbench.{kind}", digest_method=hashlib.sha256) for kind in KINDS}
        self.base_url = base_url.rstrip("/")

    def token(self, kind: str, ref: Ref, url: str | None = None) -> str:
        """A signed token of ``kind`` for ``ref`` (and ``url`` for a click)."""
        fields = [ref.message_id, ref.campaign_id, ref.contact_id, ref.list_name, str(ref.sent_at)]
        if kind == "click":
            fields.append(url or "")
        payload = _b64(_SEP.join(fields).encode("utf-8"))
        return self.signers[kind].sign(payload).decode("ascii")

    def open_url(self, ref: Ref) -> str:
        return f"{self.base_url}/o/{self.token('open', ref)}.gif"

    def click_url(self, ref: Ref, url: str) -> str:
        return f"{self.base_url}/c/{self.token('click', ref, url)}"

    def unsubscribe_url(self, ref: Ref) -> str:
        return f"{self.base_url}/u/{self.token('unsubscribe', ref)}"

    def parse(self, kind: str, token: str) -> tuple[Ref, str | None]:
        """The reference (and click URL) in a token.

        Raises
        ------
        BadToken
            Unknown kind, too long, not signed by one of our keys, or malformed.
        """
        if kind not in self.signers or len(token) > MAX_TOKEN:
            raise BadToken("not a tracking token")
        try:
            payload = self.signers[kind].unsign(token.encode("ascii")).decode("ascii")
            fields = _unb64(payload).decode("utf-8").split(_SEP)
        except (BadSignature, UnicodeError, ValueError) as exc:
            raise BadToken("forged or altered token") from exc
        want = 6 if kind == "click" else 5
        if len(fields) != want or not fields[0] or not fields[4].isdigit():
            raise BadToken("malformed token")
        ref = Ref(fields[0], fields[1], fields[2], fields[3], int(fields[4]))
        return ref, (fields[5] if kind == "click" else None)
