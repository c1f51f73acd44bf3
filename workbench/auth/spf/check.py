"""The SPF evaluator (RFC 7208 §4–§7): ``check_host(ip, mailfrom, helo)`` → ``(result, explanation)``.

Every mechanism and modifier, macros, ``redirect`` and ``exp``, the 10 DNS-lookup and 2
void-lookup limits, ``ptr`` with forward confirmation, CIDR lengths, IPv6 (IPv4-mapped
addresses count as IPv4), temperror and permerror. The logic is a sans-I/O generator
(:func:`evaluate`) driven by any dnspython-shaped resolver, sync (:func:`check_host`) or
async (:func:`check_host_async`); it passes the RFC 7208 test suite in full.

Examples
--------
>>> from workbench.auth.resolver import RecordsResolver
>>> r = RecordsResolver.from_text('example.com. TXT "v=spf1 ip4:192.0.2.0/24 -all"')
>>> check_host("192.0.2.7", "alice@example.com", "mx.example.com", resolver=r)
SpfResult(result='pass', explanation='')
>>> check_host("198.51.100.1", "alice@example.com", "mx.example.com", resolver=r).result
'fail'
"""

from __future__ import annotations

import ipaddress
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, NamedTuple

import dns.name

from workbench.auth.sansio import Query, WebGet, drive, drive_async, lookup
from workbench.auth.spf.macro import MacroContext, MacroSyntaxError, expand
from workbench.auth.spf.record import (
    LOOKUP_TERMS,
    Mechanism,
    SpfRecord,
    SpfSyntaxError,
    is_spf_record,
    parse_record,
)

__all__ = ["SpfResult", "check_host", "check_host_async", "evaluate", "fetch_record"]

MAX_LOOKUPS = 10
MAX_VOID = 2
MAX_NAMES = 10
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Gen = Generator[Query | WebGet, Any, Any]


class SpfResult(NamedTuple):
    """The result (``pass fail softfail neutral none permerror temperror``) and, on
    ``fail``, the explanation."""

    result: str
    explanation: str = ""


class PermError(Exception):
    """A permanent error: the domain's records are wrong."""


class TempError(Exception):
    """A transient DNS error."""


@dataclass
class _State:
    ip: IpAddress
    sender: str
    helo: str
    receiver: str
    lookups: int = 0
    voids: int = 0

    def count(self) -> None:
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            raise PermError(f"more than {MAX_LOOKUPS} DNS-querying terms (include, a, mx, ptr, exists, redirect)")

    def void(self) -> None:
        self.voids += 1
        if self.voids > MAX_VOID:
            raise PermError(f"more than {MAX_VOID} void DNS lookups")


def domain_name(domain: str) -> dns.name.Name | None:
    """An absolute name from a domain (a trailing dot is ignored), or ``None`` when malformed:
    an empty or over-long label, a single label, over 253 characters."""
    domain = domain[:-1] if domain.endswith(".") else domain
    labels = domain.split(".")
    if len(labels) < 2 or any(not label or len(label.encode()) > 63 for label in labels):
        return None
    try:
        return dns.name.Name([label.encode() for label in labels] + [b""])
    except (dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel):
        return None


def _text(rdata: Any) -> bytes:
    return b"".join(rdata.strings)


def fetch_record(name: dns.name.Name) -> Gen:
    """The SPF record text at ``name``: returns ``(status, text or None)``; raises
    :class:`TempError` on a DNS error and :class:`PermError` for two records or non-ASCII."""
    status, rdatas = yield from lookup(name, "TXT")
    if status in ("timeout", "error"):
        raise TempError(f"DNS {status} looking up TXT {name}")
    records = [_text(rd) for rd in rdatas if is_spf_record(_text(rd))]
    if not records:
        return status if status != "ok" else "none", None
    if len(records) > 1:
        raise PermError(f"{name} publishes {len(records)} SPF records")
    try:
        return "ok", records[0].decode("ascii")
    except UnicodeDecodeError as exc:
        raise PermError(f"{name}: the SPF record is not ASCII") from exc


def _expand_domain(spec: str, state: _State, domain: str) -> str:
    ctx = MacroContext(str(state.ip), state.sender, domain, state.helo, state.receiver)
    out = expand(spec, ctx).rstrip(".")
    while len(out) > 253 and "." in out:
        out = out.split(".", 1)[1]
    return out


def _addresses(name: dns.name.Name, ip: IpAddress, state: _State, count_void: bool) -> Gen:
    status, rdatas = yield from lookup(name, "A" if ip.version == 4 else "AAAA")
    if status in ("timeout", "error"):
        raise TempError(f"DNS {status} looking up {name}")
    if status != "ok" and count_void:
        state.void()
    return [ipaddress.ip_address(rd.address) for rd in rdatas]


def _in_net(ip: IpAddress, addr: IpAddress, mech: Mechanism) -> bool:
    if addr.version != ip.version:
        return False
    length = mech.cidr4 if ip.version == 4 else mech.cidr6
    length = addr.max_prefixlen if length is None else length
    return ip in ipaddress.ip_network(f"{addr}/{length}", strict=False)


def _validated(state: _State, target: str | None) -> Gen:
    """Forward-confirmed PTR names of the client (at most 10); the one under ``target`` first."""
    rev = dns.name.from_text(ipaddress.ip_address(state.ip).reverse_pointer + ".")
    status, rdatas = yield from lookup(rev, "PTR")
    if status != "ok":
        return []
    names: list[str] = []
    for rd in rdatas[:MAX_NAMES]:
        host = rd.target.to_text(omit_final_dot=True)
        s, addrs = yield from lookup(rd.target, "A" if state.ip.version == 4 else "AAAA")
        if s == "ok" and any(ipaddress.ip_address(a.address) == state.ip for a in addrs):
            names.append(host)
    if target:
        t = target.lower()
        names.sort(key=lambda n: not (n.lower() == t or n.lower().endswith("." + t)))
    return names


def _match(mech: Mechanism, state: _State, domain: str, depth: int) -> Gen:
    ip = state.ip
    if mech.name == "all":
        return True
    if mech.name in ("ip4", "ip6"):
        addr = ipaddress.ip_address(mech.value)
        return _in_net(ip, addr, mech)
    target = _expand_domain(mech.value, state, domain) if mech.value else domain
    name = domain_name(target)
    if mech.name == "include":
        if name is None:
            raise PermError(f"include:{target} is not a valid domain")
        result, _ = yield from _check(state, target, depth + 1)
        if result in ("temperror", "permerror"):
            raise (TempError if result == "temperror" else PermError)(f"include:{target} gave {result}")
        if result == "none":
            raise PermError(f"include:{target} has no SPF record")
        return result == "pass"
    if name is None:
        return False
    if mech.name == "a":
        addrs = yield from _addresses(name, ip, state, True)
        return any(_in_net(ip, a, mech) for a in addrs)
    if mech.name == "mx":
        status, rdatas = yield from lookup(name, "MX")
        if status in ("timeout", "error"):
            raise TempError(f"DNS {status} looking up MX {name}")
        if status != "ok":
            state.void()
        if len(rdatas) > MAX_NAMES:
            raise PermError(f"MX {target} has more than {MAX_NAMES} names")
        for rd in sorted(rdatas, key=lambda r: r.preference):
            if rd.exchange == dns.name.root:
                continue
            addrs = yield from _addresses(rd.exchange, ip, state, False)
            if any(_in_net(ip, a, mech) for a in addrs):
                return True
        return False
    if mech.name == "ptr":
        validated = yield from _validated(state, target)
        t = target.lower().rstrip(".")
        return any(n.lower().rstrip(".") == t or n.lower().rstrip(".").endswith("." + t) for n in validated)
    if mech.name == "exists":
        status, rdatas = yield from lookup(name, "A")
        if status in ("timeout", "error"):
            raise TempError(f"DNS {status} looking up {name}")
        if status != "ok":
            state.void()
        return bool(rdatas)
    raise PermError(f"unknown mechanism {mech.name}")  # pragma: no cover


def _explain(record: SpfRecord, state: _State, domain: str) -> Gen:
    default = f"{state.ip} is not allowed to send mail for {domain} (SPF)"
    if not record.exp:
        return default
    try:
        target = _expand_domain(record.exp, state, domain)
    except MacroSyntaxError:
        return default
    name = domain_name(target)
    if name is None:
        return default
    status, rdatas = yield from lookup(name, "TXT")
    if status != "ok" or len(rdatas) != 1:
        return default
    try:
        text = _text(rdatas[0]).decode("ascii")
        validated = "unknown"
        if "%{p" in text.lower():
            names = yield from _validated(state, domain)
            validated = names[0] if names else "unknown"
        ctx = MacroContext(str(state.ip), state.sender, domain, state.helo, state.receiver, validated)
        return expand(text, ctx, exp=True)
    except (UnicodeDecodeError, MacroSyntaxError):
        return default


def _check(state: _State, domain: str, depth: int) -> Gen:
    """check_host() proper: returns ``(result, explanation)``; raises Temp/PermError."""
    name = domain_name(domain)
    if name is None:
        return "none", ""
    _, text = yield from fetch_record(name)
    if text is None:
        return "none", ""
    try:
        record = parse_record(text)
    except SpfSyntaxError as exc:
        raise PermError(f"{domain}: {exc}") from exc
    for mech in record.mechanisms:
        if mech.name in LOOKUP_TERMS:
            state.count()
        try:
            if (yield from _match_p(mech, state, domain, depth)):
                explanation = (yield from _explain(record, state, domain)) if mech.result == "fail" else ""
                return mech.result, explanation
        except MacroSyntaxError as exc:
            raise PermError(str(exc)) from exc
    if record.redirect is not None:
        state.count()
        target = _expand_domain(record.redirect, state, domain)
        if domain_name(target) is None:
            raise PermError(f"redirect={target} is not a valid domain")
        result, explanation = yield from _check(state, target, depth + 1)
        if result == "none":
            raise PermError(f"redirect={target} has no SPF record")
        return result, explanation
    return "neutral", ""


def _match_p(mech: Mechanism, state: _State, domain: str, depth: int) -> Gen:
    """:func:`_match`, resolving ``%{p}`` in the domain-spec first when it is used."""
    if "%{p" in mech.value.lower():
        names = yield from _validated(state, domain)
        ctx = MacroContext(str(state.ip), state.sender, domain, state.helo, state.receiver, names[0] if names else "unknown")
        mech = Mechanism(mech.qualifier, mech.name, expand(mech.value, ctx), mech.cidr4, mech.cidr6, mech.text)
    return (yield from _match(mech, state, domain, depth))


def evaluate(ip: str, mailfrom: str, helo: str, *, receiver: str = "unknown") -> Gen:
    """The sans-I/O evaluation; returns :class:`SpfResult` (see :func:`check_host`)."""
    try:
        addr: IpAddress = ipaddress.ip_address(ip.strip())
    except ValueError:
        return SpfResult("permerror", f"{ip!r} is not an IP address")
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    sender = mailfrom or f"postmaster@{helo}"
    if "@" not in sender:
        sender = f"postmaster@{sender}"
    local, _, domain = sender.rpartition("@")
    if not local:
        sender = f"postmaster@{domain}"
    state = _State(addr, sender, helo, receiver)
    try:
        result, explanation = yield from _check(state, domain, 0)
    except PermError as exc:
        return SpfResult("permerror", str(exc))
    except TempError as exc:
        return SpfResult("temperror", str(exc))
    return SpfResult(result, explanation)


def check_host(ip: str, mailfrom: str, helo: str, resolver: Any = None, *, receiver: str = "unknown") -> SpfResult:
    """Evaluate SPF for a client ``ip`` sending ``MAIL FROM:<mailfrom>`` after ``HELO helo``.

    An empty ``mailfrom`` checks the HELO identity (``postmaster@helo``), as RFC 7208 §2.4
    says. ``resolver`` is any object with dnspython's ``resolve(qname, rdtype)``; ``None``
    uses live DNS (:class:`workbench.auth.resolver.LiveResolver`).

    Returns
    -------
    SpfResult
        ``(result, explanation)``: the explanation is the domain's ``exp=`` text (or a
        default) on ``fail``, and the reason on ``permerror`` / ``temperror``.

    Raises
    ------
    None
        DNS failures are results (``temperror``), never exceptions.
    """
    if resolver is None:
        from workbench.auth.resolver import LiveResolver

        resolver = LiveResolver()
    result: SpfResult = drive(evaluate(ip, mailfrom, helo, receiver=receiver), resolver)
    return result


async def check_host_async(ip: str, mailfrom: str, helo: str, resolver: Any, *, receiver: str = "unknown") -> SpfResult:
    """:func:`check_host` against an async resolver (:class:`~workbench.auth.resolver.AsyncLiveResolver`).

    Raises
    ------
    None
        DNS failures are results (``temperror``).
    """
    result: SpfResult = await drive_async(evaluate(ip, mailfrom, helo, receiver=receiver), resolver)
    return result
