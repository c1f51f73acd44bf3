"""Composing a message: correct MIME built as bytes, headers that cannot be injected.

:func:`compose` turns a :class:`MessageSpec` (addresses, subject, HTML and text, the
headers our pipeline sets) into a :class:`Composed` message: its header fields as
``(name, value)`` byte pairs in the shape dkimpy parses them (value with its leading space
and trailing CRLF), and the body. Building the bytes directly (``multipart/alternative``,
quoted-printable UTF-8 parts, RFC 2047 encoded words only where needed) costs a tenth of the
stdlib's ``email`` package; the result is checked against it in the tests.

Every header value is refused when it holds a CR, LF or NUL (:class:`SendError`), so no
subject, name or address coming from a contact or a template can add a header.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.utils import format_datetime

from workbench.errors import SendError

__all__ = ["Composed", "MessageSpec", "address", "compose", "header_value", "message_id_for"]

_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII without ':' (RFC 5322 field name)
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_UNSAFE = re.compile(r"[\r\n\x00]")
MAX_LINE = 78


@dataclass(frozen=True)
class MessageSpec:
    """Everything a message is made of.

    ``return_path`` is the envelope sender (the VERP address on the bounce domain);
    ``list_unsubscribe`` the URIs of ``List-Unsubscribe`` (mailto and https), with
    ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` when ``one_click``.
    """

    message_id: str
    from_addr: str
    to: str
    subject: str
    html: str
    text: str
    date: datetime
    return_path: str
    from_name: str | None = None
    reply_to: str | None = None
    list_unsubscribe: Sequence[str] = ()
    one_click: bool = True
    list_id: str | None = None
    feedback_id: str | None = None
    trace: str | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Composed:
    """A composed message: envelope, header fields (dkimpy's shape) and body."""

    message_id: str
    sender: str
    recipient: str
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def as_bytes(self, prepend: Sequence[bytes] = ()) -> bytes:
        """The message as sent (``prepend``: whole header lines such as DKIM-Signature)."""
        return b"".join([*prepend, *(n + b":" + v for n, v in self.headers), b"\r\n", self.body])


def _refuse(recipient: str, name: str, why: str) -> SendError:
    return SendError(recipient, None, f"{name}: {why} (header injection is refused)")


def header_value(name: str, value: str, recipient: str = "-") -> str:
    """``value`` checked for CR, LF and NUL.

    Raises
    ------
    SendError
        The value (or the name) could add a header.
    """
    if not _NAME.match(name):
        raise _refuse(recipient, repr(name), "not a valid header field name")
    if _UNSAFE.search(value):
        raise _refuse(recipient, name, "the value holds a CR, LF or NUL")
    return value


def address(value: str, what: str = "address") -> str:
    """A bare address, checked (ASCII local part; an IDN domain is converted to A-labels).

    Raises
    ------
    SendError
        Not a single plain address.
    """
    if _UNSAFE.search(value or ""):
        raise _refuse(value.strip()[:80], what, "the address holds a CR, LF or NUL")
    addr = (value or "").strip()
    local, at, domain = addr.rpartition("@")
    if at and domain and not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise SendError(addr, None, f"{what}: the domain is not a valid IDN") from exc
        addr = f"{local}@{domain}"
    if not _ADDRESS.match(addr) or ".." in addr:
        raise SendError(addr, None, f"{what} {addr!r} is not a plain ASCII address (SMTPUTF8 is not used)")
    return addr


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID on ``domain``, derived from ``key`` (a plan fixes it before sending)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"<{digest}.{re.sub(r'[^A-Za-z0-9-]', '', key)[:40]}@{domain}>"


def _encode(name: str, value: str) -> str:
    """RFC 2047 encoded words (UTF-8) when the value is not short plain ASCII."""
    if value.isascii() and len(name) + len(value) + 2 <= MAX_LINE:
        return value
    if value.isascii():
        return _fold(name, value.split(" "), " ")
    return Header(value, "utf-8", header_name=name, maxlinelen=MAX_LINE).encode(linesep="\r\n")


def _fold(name: str, items: Sequence[str], sep: str) -> str:
    """``items`` joined by ``sep``, folded (CRLF + space) before an item that would pass
    :data:`MAX_LINE` columns."""
    lines: list[str] = []
    line, width = "", len(name) + 2
    for i, item in enumerate(items):
        piece = item + (sep.rstrip() if i < len(items) - 1 else "")
        if line and width + 1 + len(piece) > MAX_LINE:
            lines.append(line)
            line, width = piece, 1 + len(piece)
        else:
            width += len(piece) + (1 if line else 0)
            line = f"{line} {piece}" if line else piece
    lines.append(line)
    return "\r\n ".join(lines)


def _mailbox(name: str | None, addr: str, field_name: str) -> str:
    if not name:
        return addr
    if name.isascii() and re.fullmatch(r"[A-Za-z0-9 !#$%&'*+/=?^_`{|}~-]+", name):
        return f"{name} <{addr}>"
    if name.isascii():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{addr}>'
    return Header(name, "utf-8", header_name=field_name).encode(linesep="\r\n") + f" <{addr}>"


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).replace(b"\n", b"\r\n")


def compose(spec: MessageSpec) -> Composed:
    """Build the message (see the module docstring).

    Raises
    ------
    SendError
        An address is not a plain address, or a header value holds CR / LF / NUL.
    """
    to = address(spec.to, "To")
    sender = address(spec.return_path, "return path")
    from_addr = address(spec.from_addr, "From")
    fields: list[tuple[str, str]] = [
        ("From", _mailbox(header_value("From", spec.from_name or "", to), from_addr, "From")),
        ("To", to),
        ("Subject", _encode("Subject", header_value("Subject", spec.subject, to))),
        ("Date", format_datetime(spec.date)),
        ("Message-ID", header_value("Message-ID", spec.message_id, to)),
    ]
    if spec.reply_to:
        fields.append(("Reply-To", address(spec.reply_to, "Reply-To")))
    if spec.list_id:
        fields.append(("List-Id", header_value("List-Id", spec.list_id, to)))
    if spec.list_unsubscribe:
        uris = [f"<{header_value('List-Unsubscribe', u, to)}>" for u in spec.list_unsubscribe]
        fields.append(("List-Unsubscribe", _fold("List-Unsubscribe", uris, ", ")))
        if spec.one_click:
            fields.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    if spec.feedback_id:
        fields.append(("Feedback-ID", header_value("Feedback-ID", spec.feedback_id, to)))
    if spec.trace:
        fields.append(("X-Workbench-Trace", header_value("X-Workbench-Trace", spec.trace, to)))
    for name, value in spec.extra_headers.items():
        fields.append((name, _encode(name, header_value(name, value, to))))
    boundary = "=_wb_" + hashlib.sha1(spec.message_id.encode()).hexdigest()[:28]  # '=_' never occurs in QP
    fields += [("MIME-Version", "1.0"), ("Content-Type", f'multipart/alternative;\r\n boundary="{boundary}"')]
    mark = boundary.encode()
    body = b"".join([
        b"--", mark, b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
        _qp(spec.text),
        b"--", mark, b"\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
        _qp(spec.html),
        b"--", mark, b"--\r\n",
    ])
    headers = [(n.encode("ascii"), b" " + v.encode("ascii") + b"\r\n") for n, v in fields]
    return Composed(spec.message_id, sender, to, headers, body)
