"""Reverse DNS of sending IPs: a PTR, forward-confirmed (FCrDNS), agreeing with the HELO name.

Gmail, Yahoo and Microsoft reject bulk mail from IPs without forward-confirmed reverse DNS:
the IP's PTR name must resolve (A/AAAA) back to the IP. The MTA's HELO/EHLO name should be
that name. Sans-I/O: :func:`check_ip` yields its queries.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Generator
from typing import Any

import dns.name

from workbench.auth.findings import Finding, finding
from workbench.auth.sansio import Query, WebGet, lookup

__all__ = ["check_ip", "reverse_name"]

Gen = Generator[Query | WebGet, Any, Any]
#: names that look like an access network's generic reverse DNS (IP digits in the first label)
GENERIC = re.compile(r"(\d{1,3}[-.x]){3}\d{1,3}|\b(dyn|dynamic|dhcp|pool|dsl|cable|ppp|client|host)\b", re.IGNORECASE)


def reverse_name(ip: str) -> dns.name.Name:
    """``10.2.0.192.in-addr.arpa.`` for ``192.0.2.10`` (nibbles under ``ip6.arpa.`` for IPv6)."""
    return dns.name.from_text(ipaddress.ip_address(ip).reverse_pointer + ".")


def check_ip(ip: str, helo: str | None, domain: str) -> Gen:
    """The findings for one sending IP (reported under ``domain``, the IP as subject)."""
    rev = reverse_name(ip)
    status, rdatas = yield from lookup(rev, "PTR")
    rev_text = rev.to_text()
    if status in ("timeout", "error"):
        return [finding("rdns.dns_error", domain, f"PTR {rev_text}: DNS {status}", subject=ip)]
    want = (helo or f"mail.{domain}").rstrip(".")
    if not rdatas:
        return [finding("rdns.missing_ptr", domain, f"{ip} has no PTR ({rev_text} {status})", subject=ip,
                        fix=f"ask the IP's owner to publish: {rev_text} IN PTR {want}. (and {want}. IN A {ip})")]
    out: list[Finding] = []
    names = [rd.target.to_text(omit_final_dot=True) for rd in rdatas]
    if len(names) > 1:
        out.append(finding("rdns.multiple_ptr", domain, f"{ip} has {len(names)} PTRs: {', '.join(names)}", subject=ip,
                           fix=f"keep one: {rev_text} IN PTR {want}."))
    addr = ipaddress.ip_address(ip)
    confirmed = []
    for name in names:
        s, addrs = yield from lookup(name, "A" if addr.version == 4 else "AAAA")
        if any(ipaddress.ip_address(a.address) == addr for a in addrs):
            confirmed.append(name)
        else:
            seen = ", ".join(a.address for a in addrs) or s
            out.append(finding("rdns.not_forward_confirmed", domain, f"{ip} → {name} → {seen}", subject=ip,
                               fix=f"{name}. IN {'A' if addr.version == 4 else 'AAAA'} {ip}"))
    for name in confirmed:
        if GENERIC.search(name.split(".")[0]):
            out.append(finding("rdns.generic_ptr", domain, f"{ip} → {name}", subject=ip,
                               fix=f"{rev_text} IN PTR {want}."))
    if helo and confirmed and helo.lower().rstrip(".") not in {n.lower() for n in confirmed}:
        out.append(finding("rdns.helo_mismatch", domain, f"{ip} says HELO {helo} but its PTR is {', '.join(confirmed)}",
                           subject=ip, fix=f"set the MTA's HELO name to {confirmed[0]}"))
    if not out:
        out.append(finding("rdns.ok", domain, f"{ip} ↔ {confirmed[0]}", subject=ip))
    return out
