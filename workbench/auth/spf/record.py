"""SPF records (RFC 7208 §4.6, §5, §6, §12): parse a record into terms, pure.

A record is ``v=spf1`` followed by terms separated by spaces: directives (an optional
qualifier and a mechanism: ``all``, ``include``, ``a``, ``mx``, ``ptr``, ``ip4``, ``ip6``,
``exists``) and modifiers (``redirect=``, ``exp=``, unknown ``name=value``). Any syntax error
anywhere makes the whole record a permerror (§4.6), so a record is parsed whole before it is
evaluated.

Examples
--------
>>> rec = parse_record("v=spf1 ip4:192.0.2.0/24 include:_spf.esp.example ~all")
>>> [(t.qualifier, t.name, t.value) for t in rec.mechanisms]
[('+', 'ip4', '192.0.2.0'), ('+', 'include', '_spf.esp.example'), ('~', 'all', '')]
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from workbench.auth.spf.macro import MacroSyntaxError, check_macro_string

__all__ = ["Mechanism", "Modifier", "SpfRecord", "SpfSyntaxError", "is_spf_record", "parse_record"]

MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
#: mechanisms and modifiers that cost a DNS lookup (the 10-lookup limit, §4.6.4)
LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9\-_.]*$")
_VERSION = re.compile(r"^v=spf1( |$)", re.IGNORECASE)
_CIDR4 = re.compile(r"^(0|[1-9][0-9]?)$")
_CIDR6 = re.compile(r"^(0|[1-9][0-9]{0,2})$")
_TOPLABEL = re.compile(r"^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$")


class SpfSyntaxError(ValueError):
    """A record that does not follow RFC 7208's grammar (a permerror)."""


@dataclass(frozen=True)
class Mechanism:
    """A directive: qualifier (``+ - ~ ?``), mechanism name, domain-spec or network, CIDRs."""

    qualifier: str
    name: str
    value: str = ""
    cidr4: int | None = None
    cidr6: int | None = None
    text: str = ""

    @property
    def result(self) -> str:
        """The result this directive gives when it matches."""
        return QUALIFIERS[self.qualifier]


@dataclass(frozen=True)
class Modifier:
    """A modifier: ``redirect``, ``exp`` or an unknown (ignored) name."""

    name: str
    value: str
    text: str = ""


@dataclass(frozen=True)
class SpfRecord:
    """A parsed record: its terms in order, and its ``redirect`` / ``exp`` modifiers."""

    text: str
    mechanisms: tuple[Mechanism, ...] = ()
    modifiers: tuple[Modifier, ...] = ()
    redirect: str | None = None
    exp: str | None = None
    terms: tuple[Mechanism | Modifier, ...] = field(default=(), repr=False)

    def lookup_terms(self) -> list[Mechanism | Modifier]:
        """The terms that cost a DNS lookup, in order (``redirect`` last, as evaluated)."""
        found: list[Mechanism | Modifier] = [m for m in self.mechanisms if m.name in LOOKUP_TERMS]
        found.extend(m for m in self.modifiers if m.name == "redirect")
        return found


def is_spf_record(text: str | bytes) -> bool:
    """Whether a TXT string is an SPF record: ``v=spf1`` then a space or the end (case-insensitive)."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return bool(_VERSION.match(text))


def _cidr(text: str, pattern: re.Pattern[str], limit: int, term: str) -> int:
    if not pattern.match(text) or int(text) > limit:
        raise SpfSyntaxError(f"bad CIDR length /{text} in {term!r}")
    return int(text)


def _split_cidr(value: str, term: str, *, allow: bool = True) -> tuple[str, int | None, int | None]:
    """Split ``domain/24//64`` into the domain-spec and the IPv4 / IPv6 prefix lengths."""
    cidr4 = cidr6 = None
    match = re.search(r"(/[0-9]*)?(//[0-9]*)?$", value)
    tail = match.group(0) if match else ""
    if tail and not allow:
        raise SpfSyntaxError(f"no CIDR length allowed in {term!r}")
    if match and match.group(2):
        cidr6 = _cidr(match.group(2)[2:], _CIDR6, 128, term)
    if match and match.group(1):
        cidr4 = _cidr(match.group(1)[1:], _CIDR4, 32, term)
    return value[: len(value) - len(tail)], cidr4, cidr6


def check_domain_spec(spec: str, term: str) -> None:
    """Validate a domain-spec: a macro-string ending in a top label or a macro (§7.1).

    Raises
    ------
    SpfSyntaxError
        Empty, a bad macro, or a last label that is all digits.
    """
    if not spec:
        raise SpfSyntaxError(f"empty domain in {term!r}")
    try:
        check_macro_string(spec)
    except MacroSyntaxError as exc:
        raise SpfSyntaxError(f"{exc} in {term!r}") from exc
    if spec.endswith("}") and "%{" in spec:
        return
    labels = spec.rstrip(".").split(".") if spec != "." else [""]
    top = labels[-1]
    if len(labels) < 2 or not _TOPLABEL.match(top):
        raise SpfSyntaxError(f"{spec!r} does not end in a valid top-level label in {term!r}")


def _mechanism(qualifier: str, name: str, rest: str, term: str) -> Mechanism:
    if name == "all":
        if rest:
            raise SpfSyntaxError(f"'all' takes no argument: {term!r}")
        return Mechanism(qualifier, name, text=term)
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            raise SpfSyntaxError(f"{name} needs ':domain': {term!r}")
        check_domain_spec(rest[1:], term)
        return Mechanism(qualifier, name, rest[1:], text=term)
    if name in ("a", "mx", "ptr"):
        if rest and rest[0] not in ":/":
            raise SpfSyntaxError(f"unknown mechanism {term!r}")
        spec, cidr4, cidr6 = _split_cidr(rest, term, allow=name != "ptr")
        if spec.startswith(":"):
            spec = spec[1:]
            check_domain_spec(spec, term)
        elif spec:
            raise SpfSyntaxError(f"bad {name} mechanism {term!r}")
        return Mechanism(qualifier, name, spec, cidr4, cidr6, term)
    if name in ("ip4", "ip6"):
        if not rest.startswith(":"):
            raise SpfSyntaxError(f"{name} needs ':address': {term!r}")
        addr, _, cidr = rest[1:].partition("/")
        try:
            network = ipaddress.IPv4Address(addr) if name == "ip4" else ipaddress.IPv6Address(addr)
        except ValueError as exc:
            raise SpfSyntaxError(f"bad address in {term!r}") from exc
        length = None
        if cidr or rest.endswith("/"):
            length = _cidr(cidr, _CIDR4 if name == "ip4" else _CIDR6, 32 if name == "ip4" else 128, term)
        if name == "ip4":
            return Mechanism(qualifier, name, str(network), cidr4=length, text=term)
        return Mechanism(qualifier, name, str(network), cidr6=length, text=term)
    raise SpfSyntaxError(f"unknown mechanism {term!r}")  # pragma: no cover


def parse_term(term: str) -> Mechanism | Modifier:
    """Parse one term.

    Raises
    ------
    SpfSyntaxError
        The term is not a valid mechanism or modifier.
    """
    qualifier = "+"
    body = term
    if body and body[0] in QUALIFIERS:
        qualifier, body = body[0], body[1:]
    match = re.match(r"^([A-Za-z][A-Za-z0-9\-_.]*)", body)
    name = match.group(1) if match else ""
    rest = body[len(name):]
    lowered = name.lower()
    if rest.startswith("=") and qualifier == "+" and term[0] not in QUALIFIERS:
        if not _NAME.match(name):
            raise SpfSyntaxError(f"bad modifier name in {term!r}")
        value = rest[1:]
        if lowered in ("redirect", "exp"):
            check_domain_spec(value, term)
        else:
            try:
                check_macro_string(value)
            except MacroSyntaxError as exc:
                raise SpfSyntaxError(f"{exc} in {term!r}") from exc
        return Modifier(lowered, value, term)
    if lowered in MECHANISMS and (not rest or rest[0] in ":/"):
        return _mechanism(qualifier, lowered, rest, term)
    raise SpfSyntaxError(f"unknown mechanism or bad term {term!r}")


def parse_record(text: str) -> SpfRecord:
    """Parse an SPF record (the TXT strings already joined).

    Raises
    ------
    SpfSyntaxError
        Not ASCII, not ``v=spf1``, a control character, a bad term, or ``redirect`` /
        ``exp`` given twice.
    """
    if not is_spf_record(text):
        raise SpfSyntaxError("not an SPF record (v=spf1)")
    if any(ord(c) > 126 or (ord(c) < 32) for c in text):
        raise SpfSyntaxError("SPF records are printable 7-bit ASCII; found a control or non-ASCII character")
    terms: list[Mechanism | Modifier] = [parse_term(t) for t in text[6:].split(" ") if t]
    mechanisms = tuple(t for t in terms if isinstance(t, Mechanism))
    modifiers = tuple(t for t in terms if isinstance(t, Modifier))
    found: dict[str, str] = {}
    for mod in modifiers:
        if mod.name in ("redirect", "exp"):
            if mod.name in found:
                raise SpfSyntaxError(f"{mod.name}= appears twice")
            found[mod.name] = mod.value
    return SpfRecord(text, mechanisms, modifiers, found.get("redirect"), found.get("exp"), tuple(terms))
