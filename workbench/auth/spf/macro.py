"""SPF macros (RFC 7208 §7): ``%{s}``, ``%{l}``, ``%{o}``, ``%{d}``, ``%{i}``, ``%{p}``,
``%{h}``, ``%{v}`` everywhere, and ``%{c}``, ``%{r}``, ``%{t}`` in explanations only;
transformers (keep the N rightmost parts, ``r`` to reverse), delimiters, ``%%`` ``%_`` ``%-``,
upper-case letters URL-escaped. Pure: the ``p`` macro's validated name is passed in.

Examples
--------
>>> ctx = MacroContext(ip="192.0.2.3", sender="strong-bad@email.example.com", domain="email.example.com", helo="mx.example.org")
>>> expand("%{ir}.%{v}._spf.%{d2}", ctx)
'3.2.0.192.in-addr._spf.example.com'
>>> expand("%{lr-}.%{o}", ctx)
'bad.strong.email.example.com'
"""

from __future__ import annotations

import ipaddress
import re
import time
import urllib.parse
from dataclasses import dataclass

__all__ = ["MacroContext", "MacroSyntaxError", "check_macro_string", "expand"]

_MACRO = re.compile(r"%(?:\{([A-Za-z])([0-9]*)(r?)([.\-+,/_=]*)\}|(.)|$)", re.IGNORECASE)
LETTERS = set("slodiphcrtv")
EXP_ONLY = set("crt")


class MacroSyntaxError(ValueError):
    """A ``%`` not followed by ``{``, ``%``, ``_`` or ``-``, an unknown letter, or a zero transformer."""


@dataclass(frozen=True)
class MacroContext:
    """What macros expand to: the client IP, the sender, the current domain, the HELO name."""

    ip: str
    sender: str
    domain: str
    helo: str
    receiver: str = "unknown"
    validated: str = "unknown"
    timestamp: int | None = None

    @property
    def local_part(self) -> str:
        return self.sender.rpartition("@")[0] or "postmaster"

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


def check_macro_string(text: str, *, exp: bool = False) -> None:
    """Validate a macro-string's syntax.

    Raises
    ------
    MacroSyntaxError
        A bad ``%`` escape, an unknown letter, a ``c``/``r``/``t`` outside an explanation,
        or a zero digit transformer.
    """
    for match in _MACRO.finditer(text):
        letter, digits, _, _, escape = match.groups()
        if letter is None:
            if escape is None or escape not in "%_-":
                raise MacroSyntaxError(f"bad macro escape {match.group(0)!r}")
            continue
        low = letter.lower()
        if low not in LETTERS or (low in EXP_ONLY and not exp):
            raise MacroSyntaxError(f"macro letter {letter!r} not allowed here")
        if digits and int(digits) == 0:
            raise MacroSyntaxError("a macro keeps at least one part (%{d0} is invalid)")
    if any((ord(c) < 0x21 and c != " ") or ord(c) > 0x7E for c in text) and not exp:
        raise MacroSyntaxError("non-printable character in macro string")


def _ip_value(ip: str, letter: str) -> str:
    addr = ipaddress.ip_address(ip)
    if letter == "c":
        return str(addr)
    if letter == "v":
        return "in-addr" if addr.version == 4 else "ip6"
    if addr.version == 4:
        return str(addr)
    return ".".join(addr.exploded.replace(":", "").upper())


def _value(letter: str, ctx: MacroContext) -> str:
    match letter:
        case "s":
            return ctx.sender
        case "l":
            return ctx.local_part
        case "o":
            return ctx.sender_domain
        case "d":
            return ctx.domain
        case "i" | "c" | "v":
            return _ip_value(ctx.ip, letter)
        case "p":
            return ctx.validated
        case "h":
            return ctx.helo
        case "r":
            return ctx.receiver
        case "t":
            return str(ctx.timestamp if ctx.timestamp is not None else int(time.time()))
    raise MacroSyntaxError(f"unknown macro letter {letter!r}")  # pragma: no cover


def expand(text: str, ctx: MacroContext, *, exp: bool = False) -> str:
    """Expand the macros of ``text``.

    Raises
    ------
    MacroSyntaxError
        The string is not a valid macro-string (see :func:`check_macro_string`).
    """
    check_macro_string(text, exp=exp)
    out: list[str] = []
    pos = 0
    for match in _MACRO.finditer(text):
        out.append(text[pos:match.start()])
        pos = match.end()
        letter, digits, reverse, delimiters, escape = match.groups()
        if letter is None:
            out.append({"%": "%", "_": " ", "-": "%20"}[escape])
            continue
        value = _value(letter.lower(), ctx)
        parts = re.split("[" + re.escape(delimiters or ".") + "]", value)
        if reverse:
            parts.reverse()
        if digits:
            parts = parts[-int(digits):]
        value = ".".join(parts)
        if letter.isupper():
            value = urllib.parse.quote(value, safe="-._~")
        out.append(value)
    out.append(text[pos:])
    return "".join(out)
