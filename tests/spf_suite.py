"""The RFC 7208 test suite's scenarios as in-memory resolvers (the OpenSPF driver's conventions).

Conventions of the suite (``rfc7208-tests.yml``): ``SPF`` records are copied to ``TXT`` for a
name that lists no ``TXT`` (``TXT: NONE`` forbids the copy); a ``TIMEOUT`` entry makes every
query for the name time out, except for the types listed before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import yaml

from workbench.auth.resolver import RecordsResolver

QUERY_TYPES = ("TXT", "A", "AAAA", "MX", "PTR", "CNAME")


def _name(text: str) -> dns.name.Name:
    text = text.rstrip(".")
    return dns.name.Name([label.encode() for label in text.split(".")] + [b""])


def _txt(value: Any) -> dns.rdtypes.ANY.TXT.TXT:
    strings = value if isinstance(value, list) else [value]
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [str(s).encode("utf-8") for s in strings])


def scenario_resolver(zonedata: dict[str, list[Any]]) -> RecordsResolver:
    """A resolver answering a scenario's ``zonedata``."""
    resolver = RecordsResolver("rfc7208 scenario")
    for owner, entries in zonedata.items():
        name = _name(owner)
        txt_listed = any(isinstance(e, dict) and "TXT" in e for e in entries)
        seen: set[str] = set()
        for entry in entries:
            if entry == "TIMEOUT":
                for kind in QUERY_TYPES:
                    if kind not in seen:
                        resolver.add_timeout(name, kind)
                break
            ((kind, value),) = entry.items()
            if kind == "TXT" and value == "NONE":
                continue
            if kind == "SPF":
                if txt_listed:
                    continue
                kind = "TXT"
            if kind == "TXT":
                if value == []:
                    continue
                resolver.add(name, "TXT", _txt(value))
            elif kind == "MX":
                resolver.add(name, "MX", f"{value[0]} {value[1].rstrip('.')}.")
            elif kind in ("PTR", "CNAME"):
                resolver.add(name, kind, _name(value).to_text())
            else:
                resolver.add(name, kind, str(value))
            seen.add(kind)
    return resolver


def load_suite(path: Path) -> Iterator[tuple[str, dict[str, Any], RecordsResolver]]:
    """Every test of the suite: ``(scenario/test id, test, resolver)``."""
    with path.open(encoding="utf-8") as handle:
        for scenario in yaml.safe_load_all(handle):
            if not scenario:
                continue
            resolver = scenario_resolver(scenario.get("zonedata") or {})
            for test_id, test in scenario["tests"].items():
                yield test_id, test, resolver
