"""The world's DNS: deterministic, consistent with the infrastructure and keys, served by Knot."""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

import yaml

from workbench.auth.dkim import matches, parse_key_record
from workbench.auth.dkim_keys import list_keys
from workbench.auth.resolver import LiveResolver, RecordsResolver
from workbench.synth.world import World
from workbench.synth.zone import ZONE_FILE, seeded_rsa, world_keys, write_dns, zone_text


def test_zone_is_deterministic_and_parses() -> None:
    text = zone_text(World(), 7)
    assert text == zone_text(World(), 7) and text != zone_text(World(), 8)
    resolver = RecordsResolver.from_text(text)
    assert resolver.resolve("brightmart.example", "MX")
    assert seeded_rsa("a").private_numbers() == seeded_rsa("a").private_numbers()


def test_world_files_keys_and_consistency(small_world: Path) -> None:
    zone = small_world / "dns" / ZONE_FILE
    resolver = RecordsResolver.from_zone_files([zone])
    infra = yaml.safe_load((small_world / "infrastructure.yaml").read_text())
    for domain in infra["domains"]:
        assert resolver.resolve(domain["domain"], "TXT")  # every sending domain publishes SPF
        for selector in domain["dkim_selectors"]:
            assert resolver.resolve(f"{selector}._domainkey.{domain['domain']}", "TXT")
    for ip in infra["ips"]:
        ptr = resolver.resolve(".".join(reversed(ip["ip"].split("."))) + ".in-addr.arpa", "PTR")
        assert [rd.target.to_text(omit_final_dot=True) for rd in ptr] == [ip["hostname"]]
    keys = list_keys(small_world / ".keys")
    assert {(k.domain, k.selector) for k in keys} == {("brightmart.example", "bm2026"), ("news.brightmart.example", "bm2026"),
                                                     ("news.brightmart.example", "bm2025"), ("tx.brightmart.example", "bm2026"),
                                                     ("tx.brightmart.example", "bm2025")}
    for key in keys:
        assert key.path is not None and stat.S_IMODE(key.path.stat().st_mode) == 0o600
        published = b"".join(resolver.resolve(key.record_name, "TXT").rrset[0].strings).decode()
        expected = (key.domain, key.selector) != ("news.brightmart.example", "bm2025")  # the planted stale key
        assert matches(parse_key_record(published), key) is expected
    assert (small_world / "dns" / "web" / "mta-sts.brightmart.example" / ".well-known" / "mta-sts.txt").is_file()


def test_key_dates_follow_the_window(tmp_path: Path) -> None:
    keys = {(k.domain, k.selector): k.created for k in world_keys(World(), 3, date(2026, 6, 30))}
    assert keys[("tx.brightmart.example", "bm2025")] == date(2024, 12, 17)
    write_dns(tmp_path, World(), 3, date(2026, 6, 30))
    assert (tmp_path / "dns" / ZONE_FILE).read_text() == zone_text(World(), 3)


def test_knot_serves_the_world_zone(knot_server, small_world: Path) -> None:
    text = (small_world / "dns" / ZONE_FILE).read_text()
    host, port = knot_server(text)
    live = LiveResolver([f"{host}:{port}"], timeout=1.0, lifetime=2.0)
    offline = RecordsResolver.from_text(text)
    for name in offline.names():
        for rdtype in ("TXT", "A", "MX", "PTR"):
            try:
                expected = sorted(rd.to_text() for rd in offline.resolve(name, rdtype))
            except Exception as exc:
                expected = type(exc).__name__
            try:
                got = sorted(rd.to_text() for rd in live.resolve(name, rdtype))
            except Exception as exc:
                got = type(exc).__name__
            assert got == expected, (name, rdtype)
