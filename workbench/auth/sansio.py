"""Checks without I/O: generators that yield what they need and receive the answers.

dnspython's ``_Resolution`` holds the logic while its sync and async resolvers only do
I/O; the audits follow the same pattern. A check is a generator that yields
:class:`Query` (a DNS question) or :class:`WebGet` (an HTTPS fetch) and receives the
answer (or has the resolver's exception thrown into it), then returns its result.
:func:`drive` runs one against a sync resolver, :func:`drive_async` against an async one;
both may record what they saw in :class:`workbench.auth.answers.Answers`, which can replay it
later with no I/O at all.

Examples
--------
>>> def count_txt(name):
...     status, records = yield from lookup(name, "TXT")
...     return status, len(records)
>>> from workbench.auth.resolver import RecordsResolver
>>> drive(count_txt("example.com"), RecordsResolver.from_text('example.com. TXT "x"'))
('ok', 1)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import dns.exception
import dns.name
import dns.rdata
import dns.resolver

from workbench.auth.resolver import to_name

__all__ = ["Query", "WebGet", "WebResponse", "drive", "drive_async", "lookup"]

T = TypeVar("T")


@dataclass(frozen=True)
class Query:
    """A DNS question: an absolute name and a type (``"TXT"``)."""

    name: dns.name.Name
    rdtype: str


@dataclass(frozen=True)
class WebGet:
    """An HTTPS GET of a small document (an MTA-STS policy, a BIMI logo)."""

    url: str
    max_bytes: int = 65536


@dataclass(frozen=True)
class WebResponse:
    """What a fetch returned: a status, a content type and a body, or an error in words."""

    url: str
    status: int | None = None
    content_type: str = ""
    body: bytes = b""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200


class Web(Protocol):
    def get(self, request: WebGet) -> WebResponse: ...


class AsyncWeb(Protocol):
    async def get(self, request: WebGet) -> WebResponse: ...


Step = Generator[Query | WebGet, Any, T]


def lookup(name: str | dns.name.Name, rdtype: str) -> Generator[Query | WebGet, Any, tuple[str, list[Any]]]:
    """Ask for ``name``/``rdtype``; returns ``(status, rdatas)``.

    ``status`` is ``"ok"``, ``"nxdomain"``, ``"noanswer"`` (the two *void* answers),
    ``"timeout"`` or ``"error"`` (no server answered: SERVFAIL, a CNAME loop, a bad name).
    """
    try:
        query = Query(to_name(name), rdtype)
    except dns.exception.DNSException:
        return "error", []
    try:
        answer = yield query
    except dns.resolver.NXDOMAIN:
        return "nxdomain", []
    except dns.resolver.NoAnswer:
        return "noanswer", []
    except dns.resolver.LifetimeTimeout:
        return "timeout", []
    except dns.exception.DNSException:
        return "error", []
    return "ok", list(answer)


def canonical_name(name: str | dns.name.Name, rdtype: str) -> Generator[Query | WebGet, Any, str | None]:
    """The name an answer came from after CNAMEs (asked again: resolvers cache it), or ``None``."""
    try:
        answer = yield Query(to_name(name), rdtype)
    except dns.exception.DNSException:
        return None
    found = getattr(answer, "canonical_name", None)
    return found.to_text(omit_final_dot=True) if found is not None else None


def drive(step: Step[T], resolver: Any, web: Web | None = None, record: Callable[[Any, Any], None] | None = None) -> T:
    """Run a check against a sync resolver (and web fetcher); ``record(request, outcome)``
    sees every request and its answer or exception.

    Raises
    ------
    AuthAuditError
        The check asked for a web fetch and no fetcher was given.
    """
    from workbench.errors import AuthAuditError

    try:
        request = next(step)
        while True:
            if isinstance(request, WebGet):
                if web is None:
                    raise AuthAuditError(f"{request.url}: no web fetcher configured for this audit")
                response = web.get(request)
                if record:
                    record(request, response)
                request = step.send(response)
                continue
            try:
                answer = resolver.resolve(request.name, request.rdtype)
            except dns.exception.DNSException as exc:
                if record:
                    record(request, exc)
                request = step.throw(exc)
            else:
                if record:
                    record(request, answer)
                request = step.send(answer)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def drive_async(step: Step[T], resolver: Any, web: AsyncWeb | None = None,
                      record: Callable[[Any, Any], None] | None = None) -> T:
    """Run a check against an async resolver (see :func:`drive`).

    Raises
    ------
    AuthAuditError
        The check asked for a web fetch and no fetcher was given.
    """
    from workbench.errors import AuthAuditError

    try:
        request = next(step)
        while True:
            if isinstance(request, WebGet):
                if web is None:
                    raise AuthAuditError(f"{request.url}: no web fetcher configured for this audit")
                response = await web.get(request)
                if record:
                    record(request, response)
                request = step.send(response)
                continue
            pending: Awaitable[Any] = resolver.resolve(request.name, request.rdtype)
            try:
                answer = await pending
            except dns.exception.DNSException as exc:
                if record:
                    record(request, exc)
                request = step.throw(exc)
            else:
                if record:
                    record(request, answer)
                request = step.send(answer)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
