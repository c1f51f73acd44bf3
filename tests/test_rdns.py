"""Reverse DNS of sending IPs: PTR, forward confirmation, HELO agreement."""

from __future__ import annotations

import pytest

from workbench.auth.rdns import check_ip, reverse_name
from workbench.auth.resolver import RecordsResolver
from workbench.auth.sansio import drive

ZONE = """
10.2.0.192.in-addr.arpa. PTR mta1.example.com.
mta1.example.com. A 192.0.2.10
11.2.0.192.in-addr.arpa. PTR mta2.example.com.
mta2.example.com. A 192.0.2.12
12.2.0.192.in-addr.arpa. PTR a.example.com.
12.2.0.192.in-addr.arpa. PTR b.example.com.
a.example.com. A 192.0.2.12
b.example.com. A 192.0.2.12
13.2.0.192.in-addr.arpa. PTR 192-0-2-13.dynamic.isp.example.
192-0-2-13.dynamic.isp.example. A 192.0.2.13
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR mta6.example.com.
mta6.example.com. AAAA 2001:db8::1
"""


def codes(ip: str, helo: str | None = None) -> list[str]:
    return sorted(f.code for f in drive(check_ip(ip, helo, "example.com"), RecordsResolver.from_text(ZONE)))


def test_reverse_name() -> None:
    assert reverse_name("192.0.2.10").to_text() == "10.2.0.192.in-addr.arpa."
    assert reverse_name("2001:db8::1").to_text().endswith(".8.b.d.0.1.0.0.2.ip6.arpa.")


@pytest.mark.parametrize("ip, helo, expected", [
    ("192.0.2.10", "mta1.example.com", ["rdns.ok"]),
    ("192.0.2.10", None, ["rdns.ok"]),
    ("192.0.2.10", "mail.example.com", ["rdns.helo_mismatch"]),
    ("192.0.2.11", "mta2.example.com", ["rdns.not_forward_confirmed"]),
    ("192.0.2.12", "a.example.com", ["rdns.multiple_ptr"]),
    ("192.0.2.13", None, ["rdns.generic_ptr"]),
    ("192.0.2.99", "mta9.example.com", ["rdns.missing_ptr"]),
    ("2001:db8::1", "mta6.example.com", ["rdns.ok"]),
])
def test_check_ip(ip: str, helo: str | None, expected: list[str]) -> None:
    assert codes(ip, helo) == expected


def test_fixes_say_what_to_publish() -> None:
    resolver = RecordsResolver.from_text(ZONE)
    (missing,) = drive(check_ip("192.0.2.99", "mta9.example.com", "example.com"), resolver)
    assert missing.fix == ("ask the IP's owner to publish: 99.2.0.192.in-addr.arpa. IN PTR mta9.example.com. "
                           "(and mta9.example.com. IN A 192.0.2.99)")
    (unconfirmed,) = drive(check_ip("192.0.2.11", "mta2.example.com", "example.com"), resolver)
    assert unconfirmed.fix == "mta2.example.com. IN A 192.0.2.11" and unconfirmed.subject == "192.0.2.11"


def test_dns_error() -> None:
    resolver = RecordsResolver()
    resolver.add_timeout("10.2.0.192.in-addr.arpa")
    assert [f.code for f in drive(check_ip("192.0.2.10", None, "example.com"), resolver)] == ["rdns.dns_error"]
