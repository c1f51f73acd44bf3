"""MX of our domains: where bounces and replies to a sending (return-path) domain go.

A return-path domain needs an MX (or at least an address) to receive bounces; receivers
also refuse envelope senders whose domain accepts no mail. Sans-I/O: :func:`check_mx`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from workbench.auth.findings import Finding, finding
from workbench.auth.sansio import Query, WebGet, canonical_name, lookup

__all__ = ["check_mx"]

Gen = Generator[Query | WebGet, Any, Any]


def check_mx(domain: str, *, receives_bounces: bool = True) -> Gen:
    """Findings for ``domain``'s MX; returns ``(findings, [mx host names])``."""
    status, rdatas = yield from lookup(domain, "MX")
    if status in ("timeout", "error"):
        return [finding("mx.dns_error", domain, f"MX {domain}: DNS {status}", subject=domain)], []
    if not rdatas:
        severity_code = "mx.missing"
        return [finding(severity_code, domain, f"{domain} has no MX ({status})", subject=domain,
                        fix=f"{domain}. IN MX 10 mx.{domain}." if receives_bounces else "")], []
    hosts = [rd.exchange.to_text(omit_final_dot=True) for rd in sorted(rdatas, key=lambda r: r.preference)]
    if hosts == [""] or hosts == ["."] or all(h in ("", ".") for h in hosts):
        if receives_bounces:
            return [finding("mx.null", domain, f"{domain} publishes a null MX (0 .)", subject=domain,
                            fix=f"{domain}. IN MX 10 mx.{domain}.")], []
        return [finding("mx.ok", domain, "null MX: this domain receives no mail, as intended", subject=domain)], []
    out: list[Finding] = []
    for host in hosts:
        s4, a = yield from lookup(host, "A")
        _, aaaa = yield from lookup(host, "AAAA")
        if not a and not aaaa:
            out.append(finding("mx.no_address", domain, f"MX {host} has no A/AAAA ({s4})", subject=host,
                               fix=f"{host}. IN A <the mail server's address>"))
            continue
        canonical = yield from canonical_name(host, "A" if a else "AAAA")
        if canonical and canonical.lower() != host.lower():
            out.append(finding("mx.cname", domain, f"MX {host} is a CNAME to {canonical}", subject=host,
                               fix=f"point the MX at {canonical} directly"))
    if not out:
        out.append(finding("mx.ok", domain, f"MX {', '.join(hosts)}", subject=domain))
    return out, hosts
