"""SMTP facts found in text: enhanced status codes (RFC 3463), reply codes (RFC 5321), the
SMTP command a server answered, and whether an error is permanent or temporary.

Pure functions over strings; the reason rules build on them.
"""

from __future__ import annotations

import re

__all__ = [
    "find_command",
    "find_reply",
    "find_status",
    "is_permanent",
    "is_status",
    "is_temporary",
    "prefer_status",
]

REPLY_CODES = {
    "5": ("550", "552", "553", "551", "521", "525", "523", "524", "530", "533", "534", "535", "538", "555",
          "556", "554", "500", "501", "502", "503", "504"),
    "4": ("421", "450", "451", "452", "422", "430", "432", "453", "454", "455", "458", "459"),
    "2": ("211", "214", "220", "221", "235", "250", "251", "252", "253", "334", "354"),
}
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_STATUS = re.compile(r"(?<![0-9.vV])([245])\.([0-7])\.(\d{1,3})(?![0-9])")
_NUMERIC = frozenset("./0123456789")
_STATUS_ONLY = re.compile(r"^[245]\.[0-7]\.\d{1,3}$")
COMMANDS = ("HELO", "EHLO", "MAIL", "RCPT", "DATA", "QUIT", "RSET", "NOOP", "VRFY", "ETRN", "EXPN", "HELP",
            "AUTH", "STARTTLS", "XFORWARD", "CONN")
_DETECTABLE = ("HELO", "EHLO", "STARTTLS", "AUTH PLAIN", "AUTH LOGIN", "AUTH CRAM-", "AUTH DIGEST-",
               "MAIL F", "RCPT", "RCPT T", "DATA", "QUIT", "XFORWARD")
#: commands sent before the message content: a refusal there cannot be about the content
BEFORE_DATA = ("CONN", "EHLO", "HELO", "MAIL", "RCPT")


def is_status(code: str) -> bool:
    """True for a syntactically valid enhanced status code (``5.1.1``, ``4.7.650``)."""
    return bool(_STATUS_ONLY.match(code or ""))


def prefer_status(field_value: str, in_text: str, reply: str = "") -> str:
    """Choose between the ``Status:`` value and a code found in the diagnostic text.

    The more specific one wins: ``X.0.0`` and ``X.Y.0`` give way to a detailed code; codes
    that say little (``4.4.7``, ``4.7.0``, ``5.3.x``, ``X.5.1/2/4/5``) give way to the text's.
    When a reply code is given, the value whose class agrees with it wins.
    """
    if not field_value:
        return in_text
    if not in_text:
        return field_value
    if len(field_value) < 5:
        return in_text
    if len(in_text) < 5:
        return field_value
    if reply and field_value[0] != in_text[0]:
        if reply[0] == field_value[0]:
            return field_value
        if reply[0] == in_text[0]:
            return in_text
    if field_value == in_text:
        return field_value
    if ".0.0" in field_value[1:]:
        return in_text if ".0.0" not in in_text else field_value
    if ".0" in field_value and ".0" not in in_text:
        return in_text
    if ".0.0" in in_text:
        return field_value
    if field_value in ("4.4.7", "4.7.0") or field_value.startswith("5.3."):
        return in_text
    if field_value[1:] in (".5.1", ".5.2", ".5.4", ".5.5"):
        return in_text
    if field_value == "5.1.1":
        return field_value if (".0" in in_text or in_text.startswith("5.5.")) else in_text
    if field_value == "5.1.3" and in_text.startswith("5.7."):
        return in_text
    return field_value


def find_status(text: str, klass: str = "") -> str:
    """The enhanced status code in ``text`` (of class ``klass`` when given: ``"4"``/``"5"``).

    Several codes: the most specific (see :func:`prefer_status`); ``X.0.0`` and ``4.4.7``
    only when nothing better is there. IPv4 addresses are not mistaken for codes.
    """
    if len(text) < 5:
        return ""
    masked = _IPV4.sub("***", text)
    found: list[str] = []
    fallback = ""
    for match in _STATUS.finditer(masked):
        if klass and match[1] != klass[0]:
            continue
        code = match.group(0)
        if code[1:] == ".0.0" or code == "4.4.7":
            fallback = code
            continue
        found.append(code)
    if fallback:
        found.append(fallback)
    if not found:
        return ""
    chosen = found[0]
    for code in found[1:]:
        chosen = prefer_status(chosen, code)
    return chosen


def find_reply(text: str, klass: str = "") -> str:
    """An SMTP reply code in ``text`` (of the class of ``klass``, a code or its first digit).

    Codes are tried in a fixed order (5xx, then 4xx, then 2xx); the first one that appears
    as a number of its own wins. Nothing is found in ``X-UNIX`` diagnostics.
    """
    if len(text) < 3 or "X-UNIX" in text.upper():
        return ""
    first = (klass or "0")[0]
    codes = REPLY_CODES[first] if first in REPLY_CODES else REPLY_CODES["5"] + REPLY_CODES["4"] + REPLY_CODES["2"]
    padded = f" {text} "
    for code in codes:
        start = 1
        while True:
            at = padded.find(code, start)
            if at < 0:
                break
            before, after = padded[at - 1], padded[at + 3]
            if before not in _NUMERIC and after not in _NUMERIC:
                return code
            start = at + 3
    return ""


def find_command(text: str) -> str:
    """The SMTP command named in ``text`` (the last one mentioned; ``MAIL`` for ``MAIL FROM``)."""
    if len(text) < 4 or not any(c in text for c in COMMANDS):
        return ""
    padded = f" {text} "
    found: list[str] = []
    for word in _DETECTABLE:
        at = text.find(word)
        if at < 0:
            continue
        if " " not in word:
            before, after = padded[at], padded[at + len(word) + 1]
            if before.isalnum() or before == "@" or after.isalnum() or after == "@":
                continue
        head = word[:4]
        name = {"STAR": "STARTTLS", "XFOR": "XFORWARD"}.get(head, head)
        if not any(f.startswith(head) for f in found):
            found.append(name)
    return found[-1] if found else ""


def _code_in(text: str) -> str:
    return find_status(text) or find_reply(text)


def is_permanent(text: str) -> bool:
    """True when ``text`` carries a 5xx code or says the error is permanent."""
    return _code_in(text).startswith("5") or " permanent " in text.lower()


def is_temporary(text: str) -> bool:
    """True when ``text`` carries a 4xx code or says the error is temporary or persistent."""
    lowered = text.lower()
    return _code_in(text).startswith("4") or " temporar" in lowered or " persistent" in lowered
