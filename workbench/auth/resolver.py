"""The one DNS seam of the workbench: live DNS through dnspython, or answers from zone files.

Every resolver here has dnspython's shape: ``resolve(qname, rdtype)`` returns an answer that
iterates over rdata objects (and has ``rrset``, ``qname``, ``canonical_name``), and raises
dnspython's exceptions: :class:`dns.resolver.NXDOMAIN`, :class:`dns.resolver.NoAnswer`,
:class:`dns.resolver.LifetimeTimeout` and :class:`dns.resolver.NoNameservers` (a CNAME loop,
a SERVFAIL). Code that calls DNS (the audits, DMARC enrichment, sending) takes any of them.

- :class:`LiveResolver` / :class:`AsyncLiveResolver`: dnspython against the system's
  resolvers or given nameservers (``host`` or ``host:port``), with timeouts, retries and a
  cache that lives as long as the resolver (one audit run): include trees shared by many
  domains are fetched once, and concurrent identical queries share one request.
- :class:`RecordsResolver`: answers from memory, built from zone files
  (:meth:`RecordsResolver.from_zone_files`, dnspython's zone parser, the demo's offline
  default ``data/dns/*.zone``), from zone text, or record by record (tests). It follows CNAME
  chains and wildcards like an authoritative server serving one root zone.

Examples
--------
>>> r = RecordsResolver.from_text('brightmart.example. 300 IN TXT "v=spf1 -all"')
>>> [rd.to_text() for rd in r.resolve("brightmart.example", "TXT")]
['"v=spf1 -all"']
"""

from __future__ import annotations

import asyncio
import glob
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.resolver
import dns.rrset
import dns.zone

from workbench.errors import ConfigError

__all__ = [
    "AsyncLiveResolver",
    "AsyncResolver",
    "LiveResolver",
    "RecordAnswer",
    "RecordsResolver",
    "Resolver",
    "nameserver_spec",
]

#: the exceptions a resolver raises for a name it could not answer (all dnspython's)
DNS_ERRORS = (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.LifetimeTimeout, dns.resolver.NoNameservers)
MAX_CHAIN = 16


class Resolver(Protocol):
    """What the audits need of a resolver: dnspython's ``resolve``."""

    def resolve(self, qname: str | dns.name.Name, rdtype: str | dns.rdatatype.RdataType) -> Any: ...


class AsyncResolver(Protocol):
    """The asynchronous twin of :class:`Resolver` (dnspython's ``dns.asyncresolver``)."""

    async def resolve(self, qname: str | dns.name.Name, rdtype: str | dns.rdatatype.RdataType) -> Any: ...


def to_name(qname: str | dns.name.Name) -> dns.name.Name:
    """An absolute dnspython name (text is taken as absolute).

    Raises
    ------
    dns.exception.SyntaxError
        The text is not a domain name (an empty label, a label over 63 bytes).
    """
    if isinstance(qname, dns.name.Name):
        return qname if qname.is_absolute() else qname.concatenate(dns.name.root)
    return dns.name.from_text(qname, origin=dns.name.root)


def to_type(rdtype: str | dns.rdatatype.RdataType) -> dns.rdatatype.RdataType:
    """A dnspython rdata type from ``"TXT"`` or a type."""
    return dns.rdatatype.RdataType.make(rdtype)


def nameserver_spec(spec: str, default_port: int = 53) -> dns.nameserver.Do53Nameserver:
    """A nameserver from ``"192.0.2.1"``, ``"192.0.2.1:5353"`` or ``"[2001:db8::1]:5353"``.

    Raises
    ------
    ConfigError
        The port is not a number.
    """
    host, port = spec.strip(), default_port
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], spec)
    elif host.count(":") == 1:
        host, _, text = host.partition(":")
        port = _port(text, spec)
    return dns.nameserver.Do53Nameserver(host, port)


def _port(text: str, spec: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise ConfigError(f"bad nameserver {spec!r}: the port must be a number (e.g. 127.0.0.1:5353)") from exc


def no_nameservers(name: dns.name.Name, rdtype: dns.rdatatype.RdataType, why: str) -> dns.resolver.NoNameservers:
    """dnspython's ``NoNameservers`` for a query that failed for ``why`` (a loop, SERVFAIL)."""
    request = dns.message.make_query(name, rdtype)
    return dns.resolver.NoNameservers(request=request, errors=[("offline", False, 53, why, None)])  # type: ignore[no-untyped-call]


def lifetime_timeout(seconds: float = 0.0) -> dns.resolver.LifetimeTimeout:
    """dnspython's ``LifetimeTimeout`` (used by resolvers that simulate a timeout)."""
    return dns.resolver.LifetimeTimeout(timeout=seconds, errors=[])  # type: ignore[no-untyped-call]


# -- live ------------------------------------------------------------------------------------


def _configure(resolver: dns.resolver.BaseResolver, nameservers: Iterable[str] | None, port: int, timeout: float,
               lifetime: float) -> None:
    if nameservers:
        resolver.nameservers = [nameserver_spec(ns, port) for ns in nameservers]
    resolver.port = port
    resolver.timeout = timeout
    resolver.lifetime = lifetime
    resolver.retry_servfail = False


@dataclass
class LiveResolver:
    """Live DNS through dnspython's stub resolver (sync), cached for its lifetime.

    Parameters
    ----------
    nameservers:
        ``host`` or ``host:port`` strings; ``None`` reads ``/etc/resolv.conf``.
    port:
        The port of nameservers given without one.
    timeout, lifetime:
        Seconds per server try, and for the whole query (dnspython's meanings).
    retries:
        Extra attempts of a query whose lifetime expired.
    """

    nameservers: list[str] | None = None
    port: int = 53
    timeout: float = 2.0
    lifetime: float = 5.0
    retries: int = 1
    _resolver: dns.resolver.Resolver = field(init=False, repr=False)
    _cache: dict[tuple[dns.name.Name, int], Any] = field(init=False, repr=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._resolver = dns.resolver.Resolver(configure=self.nameservers is None)
        _configure(self._resolver, self.nameservers, self.port, self.timeout, self.lifetime)

    def describe(self) -> str:
        """Where the answers come from, for reports."""
        return "live DNS " + (", ".join(self.nameservers) if self.nameservers else "(system resolvers)")

    def resolve(self, qname: str | dns.name.Name, rdtype: str | dns.rdatatype.RdataType) -> Any:
        """Resolve, from the cache when this resolver already asked.

        Raises
        ------
        dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.LifetimeTimeout, dns.resolver.NoNameservers
            As dnspython raises them (a cached failure is raised again).
        """
        key = (to_name(qname), int(to_type(rdtype)))
        with self._lock:
            hit = self._cache.get(key)
        if hit is None:
            hit = self._query(*key)
            with self._lock:
                self._cache[key] = hit
        if isinstance(hit, BaseException):
            raise hit
        return hit

    def _query(self, name: dns.name.Name, rdtype: int) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return self._resolver.resolve(name, dns.rdatatype.RdataType(rdtype), search=False)
            except dns.resolver.LifetimeTimeout as exc:
                if attempt == self.retries:
                    return exc
            except DNS_ERRORS as exc:
                return exc
            except dns.exception.DNSException as exc:  # e.g. a name too long once expanded
                return no_nameservers(name, dns.rdatatype.RdataType(rdtype), str(exc))
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class AsyncLiveResolver:
    """Live DNS, asynchronous, with a shared cache.

    Concurrent identical queries share one request; failures are cached too. The
    parameters are those of :class:`LiveResolver`, plus ``transport``: ``"udp"`` (default:
    :class:`workbench.auth.udp.UdpClient`, one multiplexed socket per nameserver, several
    times faster when auditing many domains) or ``"dnspython"`` (dnspython's async resolver).
    """

    nameservers: list[str] | None = None
    port: int = 53
    timeout: float = 2.0
    lifetime: float = 5.0
    retries: int = 1
    transport: str = "udp"
    _resolver: Any = field(init=False, repr=False)
    _cache: dict[tuple[dns.name.Name, int], Any] = field(init=False, repr=False, default_factory=dict)
    queries: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.transport == "udp":
            from workbench.auth.udp import UdpClient

            if self.nameservers:
                servers = [nameserver_spec(ns, self.port) for ns in self.nameservers]
                pairs = [(ns.address, ns.port) for ns in servers]
            else:
                system = dns.resolver.Resolver(configure=True)
                pairs = [(str(getattr(ns, "address", ns)), int(getattr(ns, "port", 53))) for ns in system.nameservers]
            self._resolver = UdpClient(pairs, self.timeout, self.lifetime)
        else:
            self._resolver = dns.asyncresolver.Resolver(configure=self.nameservers is None)
            _configure(self._resolver, self.nameservers, self.port, self.timeout, self.lifetime)

    def describe(self) -> str:
        """Where the answers come from, for reports."""
        return "live DNS " + (", ".join(self.nameservers) if self.nameservers else "(system resolvers)")

    async def resolve(self, qname: str | dns.name.Name, rdtype: str | dns.rdatatype.RdataType) -> Any:
        """Resolve (see :meth:`LiveResolver.resolve`).

        Raises
        ------
        dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.LifetimeTimeout, dns.resolver.NoNameservers
            As dnspython raises them.
        """
        key = (to_name(qname), int(to_type(rdtype)))
        hit = self._cache.get(key)
        if hit is None:
            hit = asyncio.ensure_future(self._query(*key))
            self._cache[key] = hit
        result = await hit if isinstance(hit, asyncio.Future) else hit
        if isinstance(result, BaseException):
            raise result
        return result

    async def _query(self, name: dns.name.Name, rdtype: int) -> Any:
        for attempt in range(self.retries + 1):
            self.queries += 1
            try:
                if self.transport == "udp":
                    return await self._resolver.resolve(name, rdtype)
                return await self._resolver.resolve(name, rdtype, search=False)
            except dns.resolver.LifetimeTimeout as exc:
                if attempt == self.retries:
                    return exc
            except DNS_ERRORS as exc:
                return exc
            except dns.exception.DNSException as exc:
                return no_nameservers(name, dns.rdatatype.RdataType(rdtype), str(exc))
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the sockets of the UDP transport (safe to call twice)."""
        if self.transport == "udp":
            self._resolver.close()


# -- offline -----------------------------------------------------------------------------------


class RecordAnswer:
    """An answer from :class:`RecordsResolver`: the final rrset, iterable like dnspython's."""

    def __init__(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, rrset: dns.rrset.RRset,
                 canonical_name: dns.name.Name) -> None:
        self.qname = qname
        self.rdtype = rdtype
        self.rdclass = dns.rdataclass.IN
        self.rrset = rrset
        self.canonical_name = canonical_name

    def __iter__(self) -> Iterator[dns.rdata.Rdata]:
        return iter(self.rrset)

    def __len__(self) -> int:
        return len(self.rrset)

    def __repr__(self) -> str:
        return f"RecordAnswer({self.rrset.to_text()!r})"


class RecordsResolver:
    """Answers from records held in memory (zone files, zone text, or added one by one).

    Names are case-insensitive; a CNAME is followed (a loop or a chain over 16 raises
    ``NoNameservers``, as dnspython does against a server); a name with no records but with
    names below it answers ``NoAnswer`` (an empty non-terminal); wildcards (``*.example.``)
    answer for names that do not exist below their parent.
    """

    def __init__(self, description: str = "records in memory") -> None:
        self._rdatasets: dict[tuple[dns.name.Name, int], dns.rdataset.Rdataset] = {}
        self._names: set[dns.name.Name] = set()
        self._timeouts: set[tuple[dns.name.Name, int | None]] = set()
        self.description = description

    def describe(self) -> str:
        """Where the answers come from, for reports."""
        return self.description

    # building
    @classmethod
    def from_text(cls, text: str, description: str = "zone text") -> RecordsResolver:
        """Records from zone-file text (absolute names, or relative to ``$ORIGIN``, default the root).

        Raises
        ------
        dns.exception.SyntaxError
            The text is not a valid zone file.
        """
        resolver = cls(description)
        resolver.add_zone_text(text)
        return resolver

    @classmethod
    def from_zone_files(cls, paths: Iterable[str | Path]) -> RecordsResolver:
        """Records from zone files; each path may be a file, a folder (its ``*.zone``) or a glob.

        Raises
        ------
        ConfigError
            No zone file matched, or a file does not parse (the message names it).
        """
        files: list[Path] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                files.extend(sorted(path.glob("*.zone")))
            elif path.is_file():
                files.append(path)
            else:
                files.extend(Path(p) for p in sorted(glob.glob(str(raw))))
        if not files:
            raise ConfigError(f"no zone file found in {', '.join(map(str, paths))}: run `make demo` (it writes "
                              "data/dns/brightmart.example.zone) or pass --zone FILE")
        resolver = cls("offline zone files " + ", ".join(str(f) for f in files))
        for file in files:
            try:
                resolver.add_zone_text(file.read_text(encoding="utf-8"))
            except (dns.exception.DNSException, UnicodeDecodeError) as exc:
                raise ConfigError(f"{file}: not a valid zone file: {exc}") from exc
        return resolver

    def add_zone_text(self, text: str) -> None:
        """Add the records of zone-file text (origin the root unless ``$ORIGIN`` says otherwise).

        Raises
        ------
        dns.exception.SyntaxError
            The text is not a valid zone file.
        """
        if "$TTL" not in text:
            text = "$TTL 300\n" + text
        zone = dns.zone.from_text(text, origin=dns.name.root, relativize=False, check_origin=False)
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                self.add_rdataset(name, rdataset)

    def add_rdataset(self, name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> None:
        """Add (merge) an rdataset at ``name``."""
        key = (name.canonicalize(), int(rdataset.rdtype))
        existing = self._rdatasets.get(key)
        if existing is None:
            self._rdatasets[key] = rdataset.copy()  # type: ignore[no-untyped-call]
        else:
            existing.update(rdataset)  # type: ignore[no-untyped-call]
        self._add_name(name.canonicalize())

    def add(self, qname: str | dns.name.Name, rdtype: str, *rdatas: str | dns.rdata.Rdata, ttl: int = 300) -> None:
        """Add records: ``add("example.com", "TXT", '"v=spf1 -all"')`` or rdata objects."""
        name, kind = to_name(qname), to_type(rdtype)
        rdataset = dns.rdataset.Rdataset(dns.rdataclass.IN, kind)
        for rd in rdatas:
            rdataset.add(rd if isinstance(rd, dns.rdata.Rdata) else dns.rdata.from_text(dns.rdataclass.IN, kind, rd, origin=dns.name.root, relativize=False), ttl)
        self.add_rdataset(name, rdataset)

    def add_timeout(self, qname: str | dns.name.Name, rdtype: str | None = None) -> None:
        """Make queries for ``qname`` (of ``rdtype``, or of any type) time out."""
        name = to_name(qname).canonicalize()
        self._timeouts.add((name, int(to_type(rdtype)) if rdtype else None))
        self._add_name(name)

    def _add_name(self, name: dns.name.Name) -> None:
        while name not in self._names and name != dns.name.root:
            self._names.add(name)
            name = name.parent()

    def names(self) -> list[dns.name.Name]:
        """Every owner name held (and the empty non-terminals above them), sorted."""
        return sorted(self._names)

    # answering
    def resolve(self, qname: str | dns.name.Name, rdtype: str | dns.rdatatype.RdataType) -> RecordAnswer:
        """Answer from the records.

        Raises
        ------
        dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.LifetimeTimeout, dns.resolver.NoNameservers
            As a server with these records would make dnspython raise them.
        """
        try:
            qname_ = to_name(qname)
        except dns.exception.DNSException as exc:
            raise no_nameservers(dns.name.root, to_type(rdtype), str(exc)) from exc
        kind = to_type(rdtype)
        name, seen = qname_, []
        while True:
            key = name.canonicalize()
            if (key, None) in self._timeouts or (key, int(kind)) in self._timeouts:
                raise lifetime_timeout()
            found = self._find(key, kind)
            if found is not None:
                rrset = dns.rrset.RRset(name, dns.rdataclass.IN, kind)
                rrset.update(found)  # type: ignore[no-untyped-call]
                return RecordAnswer(qname_, kind, rrset, name)
            cname = self._find(key, dns.rdatatype.CNAME) if kind != dns.rdatatype.CNAME else None
            if cname is None:
                if key in self._names or self._wildcard(key, None):
                    raise dns.resolver.NoAnswer()  # type: ignore[no-untyped-call]
                raise dns.resolver.NXDOMAIN(qnames=[qname_])  # type: ignore[no-untyped-call]
            seen.append(key)
            name = next(iter(cname)).target  # type: ignore[attr-defined]
            if name.canonicalize() in seen or len(seen) > MAX_CHAIN:
                raise no_nameservers(qname_, kind, "The CNAME chain is too long.")

    def _find(self, key: dns.name.Name, kind: int) -> dns.rdataset.Rdataset | None:
        direct = self._rdatasets.get((key, int(kind)))
        if direct is not None or key in self._names:
            return direct
        return self._wildcard(key, kind)

    def _wildcard(self, key: dns.name.Name, kind: int | None) -> dns.rdataset.Rdataset | None:
        """The rdataset of the wildcard covering a name that does not exist (``kind`` None: any)."""
        if key in self._names or len(key) < 2:
            return None
        parent = key.parent()
        while parent not in self._names and len(parent) > 1:
            parent = parent.parent()
        star = dns.name.Name((b"*", *parent.labels))
        if kind is None:
            return next((rds for (n, _), rds in self._rdatasets.items() if n == star), None)
        return self._rdatasets.get((star, int(kind)))
