"""MX of our domains: present, with addresses, not CNAMEs, not null for a bounce domain."""

from __future__ import annotations

from workbench.auth.mx import check_mx
from workbench.auth.resolver import RecordsResolver
from workbench.auth.sansio import drive

ZONE = """
ok.example. MX 10 mx1.ok.example.
ok.example. MX 20 mx2.ok.example.
mx1.ok.example. A 192.0.2.1
mx2.ok.example. AAAA 2001:db8::2
null.example. MX 0 .
noaddr.example. MX 10 ghost.noaddr.example.
alias.example. MX 10 mail.alias.example.
mail.alias.example. CNAME real.alias.example.
real.alias.example. A 192.0.2.3
"""


def run(domain: str, **kwargs: bool):
    return drive(check_mx(domain, **kwargs), RecordsResolver.from_text(ZONE))


def test_check_mx() -> None:
    findings, hosts = run("ok.example")
    assert [f.code for f in findings] == ["mx.ok"] and hosts == ["mx1.ok.example", "mx2.ok.example"]
    assert [f.code for f in run("null.example")[0]] == ["mx.null"]
    assert [f.code for f in run("null.example", receives_bounces=False)[0]] == ["mx.ok"]
    assert [f.code for f in run("noaddr.example")[0]] == ["mx.no_address"]
    (cname,) = run("alias.example")[0]
    assert cname.code == "mx.cname" and "real.alias.example" in cname.detail
    missing, hosts = run("none.example")
    assert [f.code for f in missing] == ["mx.missing"] and hosts == [] and missing[0].fix == "none.example. IN MX 10 mx.none.example."
