"""A message as the feedback decoders read it: decoded headers and one flat text body.

The body keeps every part a decoder may need, in order, as text: ``text/plain`` (and
``text/html`` stripped of tags, unless an alternative plain part exists), and the
``message/delivery-status``, ``message/feedback-report``, ``text/rfc822-headers`` and
``message/rfc822`` parts, each preceded by a ``Content-Type: <type>`` line that decoders use
as a boundary. Binary parts are dropped. Line ends are LF, tabs are spaces. Sizes are
bounded: a returned original message keeps its headers and the start of its body.

The MIME walk is a small purpose-built splitter (about five times faster than the standard
library's ``email`` parser on bounces, which matters at hundreds of thousands of messages);
it is lenient: a missing boundary or a broken encoding never raises.
"""

from __future__ import annotations

import base64
import binascii
import html
import quopri
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header

__all__ = ["Mail", "parse_headers", "read_mail", "unforward"]

#: text kept from one part (characters)
MAX_PART_TEXT = 512 * 1024
#: body kept from a returned original message, after its headers (characters)
MAX_ORIGINAL_BODY = 16 * 1024
#: nesting depth of multiparts followed
MAX_DEPTH = 8
BOUNDARY_TYPES = (
    "message/delivery-status", "message/global-delivery-status", "message/feedback-report",
    "text/rfc822-headers", "text/rfc822-header", "text/global-headers", "message/rfc822", "message/global",
    "message/partial",
)
_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_BLANKS = re.compile(r"[ \t]+\n")
_PARAM = re.compile(r';\s*([A-Za-z0-9*_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_ASCII_ALIASES = {"us-ascii", "ascii", "ansi_x3.4-1968", "unknown-8bit", "x-unknown", "unknown", "default"}


@dataclass
class Mail:
    """A message for the decoders.

    Attributes
    ----------
    headers:
        Lower-cased field name -> decoded values, in order.
    body:
        The flat text body (see the module docstring).
    content_type:
        The top-level media type (``multipart/report``, ``text/plain``, ...).
    report_type:
        The ``report-type`` parameter of a ``multipart/report`` (``delivery-status``, ...).
    parts:
        The media types of every part, in order.
    """

    headers: dict[str, list[str]]
    body: str
    content_type: str
    report_type: str | None = None
    parts: list[str] = field(default_factory=list)

    def first(self, name: str) -> str:
        """The first value of a header, or ``""``."""
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    @property
    def subject(self) -> str:
        return self.first("subject")


def _decode_words(value: str) -> str:
    if "=?" not in value:
        return " ".join(value.split())
    try:
        return " ".join(str(make_header(decode_header(value))).split())
    except (ValueError, LookupError, UnicodeError, binascii.Error):
        return " ".join(value.split())


def _text(raw: bytes, charset: str = "utf-8") -> str:
    charset = (charset or "utf-8").strip().strip('"').lower()
    if charset in _ASCII_ALIASES:
        charset = "utf-8"
    try:
        return raw.decode(charset, "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def parse_headers(text: str) -> dict[str, list[str]]:
    """Header fields of a header block given as text (a lenient parse; stops at the first
    empty line; lines that are neither a field nor a continuation are skipped)."""
    out: dict[str, list[str]] = {}
    name: str | None = None
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if not line.strip():
            if out:
                break
            continue
        if line[:1] in (" ", "\t") and name is not None:
            out[name][-1] += " " + line.strip()
            continue
        head, sep, value = line.partition(":")
        if not sep or not head or " " in head or "\t" in head:
            name = None
            continue
        name = head.lower()
        out.setdefault(name, []).append(value.strip())
    return {k: [_decode_words(v) for v in vs] for k, vs in out.items()}


def _split(raw: bytes) -> tuple[bytes, bytes]:
    if raw[:1] in (b"\n",) or raw[:2] == b"\r\n":
        return b"", raw.lstrip(b"\r\n")
    match = _HEAD_END.search(raw)
    if not match:
        return raw, b""
    return raw[: match.start()], raw[match.end():]


def _content_type(headers: dict[str, list[str]]) -> tuple[str, dict[str, str]]:
    value = headers.get("content-type", ["text/plain"])[0]
    media = value.split(";", 1)[0].strip().lower() or "text/plain"
    if media == "message/xdelivery-status":
        media = "message/delivery-status"
    params = {k.lower(): v.strip('"') for k, v in _PARAM.findall(value)}
    return media, params


def _decode_cte(body: bytes, headers: dict[str, list[str]]) -> bytes:
    cte = headers.get("content-transfer-encoding", [""])[0].strip().lower()
    try:
        if cte == "base64":
            return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", body) + b"==", validate=False)
        if cte == "quoted-printable":
            return quopri.decodestring(body)
    except (binascii.Error, ValueError):
        return body
    return body


def _html_to_text(text: str) -> str:
    text = re.sub(r"<br\s*/?>|</p>|</div>|</tr>|</li>|</h\d>", "\n", text, flags=re.IGNORECASE)
    return html.unescape(_TAG.sub(" ", text))


def _multipart(body: bytes, boundary: str) -> list[bytes]:
    marker = b"--" + boundary.encode("latin-1", "replace")
    parts: list[bytes] = []
    current: list[bytes] | None = None
    for line in body.split(b"\n"):
        stripped = line.rstrip(b"\r \t")
        if stripped.startswith(marker):
            rest = stripped[len(marker):]
            if rest in (b"", b"--"):
                if current is not None:
                    parts.append(b"\n".join(current))
                current = None if rest == b"--" else []
                if rest == b"--":
                    break
                continue
        if current is not None:
            current.append(line)
    if current:
        parts.append(b"\n".join(current))
    return parts


_BOUNDARY_LINE = re.compile(rb"^--([^\s]{6,}?)(?:--)?\r?$", re.MULTILINE)


def _guess_boundary(body: bytes) -> str:
    """The boundary a multipart body actually uses, when its header names another one."""
    seen: dict[bytes, int] = {}
    for match in _BOUNDARY_LINE.finditer(body[:1 << 20]):
        seen[match[1]] = seen.get(match[1], 0) + 1
    best = max(seen.items(), key=lambda kv: kv[1], default=(b"", 0))
    return best[0].decode("latin-1") if best[1] >= 2 else ""


def _original_text(raw: bytes) -> str:
    head, body = _split(raw)
    return _text(head, "utf-8") + "\n\n" + _text(body[: MAX_ORIGINAL_BODY * 2], "utf-8")[:MAX_ORIGINAL_BODY]


def _walk(headers: dict[str, list[str]], body: bytes, out: list[str], types: list[str], depth: int,
          alternative: bool) -> None:
    media, params = _content_type(headers)
    types.append(media)
    if media.startswith("multipart/") and depth < MAX_DEPTH:
        parts = _multipart(body, params["boundary"]) if params.get("boundary") else []
        if not parts:
            guessed = _guess_boundary(body)
            parts = _multipart(body, guessed) if guessed else []
        for part in parts:
            head, sub = _split(part)
            _walk(_raw_headers(head), sub, out, types, depth + 1, media == "multipart/alternative")
        if not parts:  # declared multipart, written as plain text
            out.append(_text(body[:MAX_PART_TEXT], "utf-8"))
        return
    if media in BOUNDARY_TYPES:
        decoded = _decode_cte(body, headers)
        text = _original_text(decoded) if media in ("message/rfc822", "message/global") else \
            _text(decoded, params.get("charset", "utf-8"))
        out.append(f"Content-Type: {media}\n{text[:MAX_PART_TEXT]}")
        return
    if media.startswith("multipart/"):
        out.append(_text(body[:MAX_PART_TEXT], "utf-8"))
        return
    if media == "text/html":
        if not alternative:
            out.append(_html_to_text(_text(_decode_cte(body, headers)[: MAX_PART_TEXT * 2], params.get("charset", "utf-8"))))
        return
    if media.startswith("text/") or (media == "application/octet-stream" and "name" not in params
                                     and "filename" not in headers.get("content-disposition", [""])[0]):
        out.append(_text(_decode_cte(body, headers)[: MAX_PART_TEXT * 2], params.get("charset", "utf-8"))[:MAX_PART_TEXT])


def _raw_headers(head: bytes) -> dict[str, list[str]]:
    return parse_headers(_text(head, "utf-8"))


_FORWARD = re.compile(r"^\s*(?:fwd?|fw|tr|wg)\s*:", re.IGNORECASE)


def unforward(mail: Mail) -> Mail:
    """A bounce someone forwarded (``Fwd: Returned mail...`` with the bounce quoted with
    ``>``) as the bounce itself: quoting removed, the quoted headers taken as its headers."""
    if not _FORWARD.match(mail.subject):
        return mail
    lines = mail.body.split("\n")
    quoted = [i for i, line in enumerate(lines) if line.startswith(">")]
    if len(quoted) < 5:
        return mail
    body = "\n".join(re.sub(r"^>\s?", "", line) if line.startswith(">") else line for line in lines[quoted[0]:])
    head, _, rest = body.partition("\n\n")
    inner = parse_headers(head)
    if "subject" not in inner and "from" not in inner:
        return Mail(mail.headers, body, mail.content_type, mail.report_type, mail.parts)
    headers = dict(mail.headers)
    for name in ("subject", "from", "date", "to", "message-id"):
        if name in inner:
            headers[name] = inner[name]
    return Mail(headers, rest, mail.content_type, mail.report_type, mail.parts)


def read_mail(data: bytes) -> Mail:
    """Decode a message for the decoders (pure; never raises on malformed MIME)."""
    head, body = _split(data)
    headers = _raw_headers(head)
    out: list[str] = []
    types: list[str] = []
    _walk(headers, body, out, types, 0, False)
    flat = "\n\n".join(out).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    media, params = _content_type(headers)
    report_type = params.get("report-type", "").lower() if media == "multipart/report" else None
    return unforward(Mail(headers=headers, body=_BLANKS.sub("\n", flat), content_type=media,
                          report_type=report_type or None, parts=types[1:] if len(types) > 1 else []))
