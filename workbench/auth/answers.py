"""What an audit saw: every DNS answer and web fetch, recorded once, replayable with no I/O.

:class:`Answers` is filled while checks run against a live or offline resolver (its
:meth:`~Answers.record` is the drivers' ``record`` hook) and is itself a resolver and a web
fetcher that replays exactly what was recorded. The pure audit runs against it; the store
keeps its rows as the evidence of each audit.
"""

from __future__ import annotations

from typing import Any

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from workbench.auth.resolver import to_name
from workbench.auth.sansio import Query, WebGet, WebResponse
from workbench.errors import AuthAuditError

__all__ = ["Answers"]

_STATUS = {dns.resolver.NXDOMAIN: "nxdomain", dns.resolver.NoAnswer: "noanswer", dns.resolver.LifetimeTimeout: "timeout"}


def _key(qname: str | dns.name.Name, rdtype: Any) -> tuple[dns.name.Name, str]:
    kind = rdtype if isinstance(rdtype, str) else dns.rdatatype.to_text(rdtype)
    return to_name(qname).canonicalize(), kind.upper()


class Answers:
    """Recorded DNS answers (or the exceptions raised) and web responses."""

    def __init__(self, description: str = "") -> None:
        self.dns: dict[tuple[dns.name.Name, str], Any] = {}
        self.web: dict[str, WebResponse] = {}
        self.description = description

    def describe(self) -> str:
        return f"recorded answers ({self.description})" if self.description else "recorded answers"

    def record(self, request: Query | WebGet, outcome: Any) -> None:
        """Keep what a request got (the drivers call this)."""
        if isinstance(request, WebGet):
            self.web[request.url] = outcome
        else:
            self.dns[_key(request.name, request.rdtype)] = outcome

    def resolve(self, qname: str | dns.name.Name, rdtype: Any) -> Any:
        """Replay a recorded answer (or raise the recorded exception).

        Raises
        ------
        dns.exception.DNSException
            The exception the live query raised.
        AuthAuditError
            The question was never asked while recording (an audit bug).
        """
        key = _key(qname, rdtype)
        if key not in self.dns:
            raise AuthAuditError(f"{key[0]} {key[1]} was not fetched before the audit")
        outcome = self.dns[key]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def get(self, request: WebGet) -> WebResponse:
        """Replay a recorded fetch.

        Raises
        ------
        AuthAuditError
            The URL was never fetched while recording.
        """
        if request.url not in self.web:
            raise AuthAuditError(f"{request.url} was not fetched before the audit")
        return self.web[request.url]

    def rows(self) -> list[dict[str, Any]]:
        """One row per question: ``qname, rdtype, status, records`` (records as zone text)."""
        out = []
        for (name, kind), outcome in sorted(self.dns.items(), key=lambda kv: (kv[0][0].to_text(), kv[0][1])):
            if isinstance(outcome, BaseException):
                status = next((s for cls, s in _STATUS.items() if isinstance(outcome, cls)), "error")
                records: list[str] = []
            else:
                status = "ok"
                records = [_text(rd) for rd in outcome]
            out.append({"qname": name.to_text(omit_final_dot=True), "rdtype": kind, "status": status, "records": records})
        for url, response in sorted(self.web.items()):
            out.append({"qname": url, "rdtype": "HTTPS", "status": "ok" if response.ok else (response.error or str(response.status)),
                        "records": [response.body[:2000].decode("utf-8", "replace")] if response.ok else []})
        return out

    def merge(self, other: Answers) -> None:
        """Add another recording's answers."""
        self.dns.update(other.dns)
        self.web.update(other.web)

    def __len__(self) -> int:
        return len(self.dns) + len(self.web)


def _text(rdata: Any) -> str:
    """An rdata in zone-file syntax (TXT and addresses without dnspython's slower path)."""
    strings = getattr(rdata, "strings", None)
    if strings is not None:
        return " ".join('"' + s.decode("ascii", "backslashreplace").replace('"', '\\"') + '"' for s in strings)
    address = getattr(rdata, "address", None)
    return str(address) if address is not None else str(rdata.to_text())


def is_dns_error(outcome: Any) -> bool:
    return isinstance(outcome, dns.exception.DNSException)
