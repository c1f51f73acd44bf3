"""The synthetic world's DNS: a zone file for Brightmart's domains, with realistic faults.

``write_dns(out, world, seed)`` writes:

- ``dns/brightmart.example.zone``: every name the audit asks about, absolute (origin the
  root), so one file serves the offline resolver and a test's Knot server alike: SPF, DKIM,
  DMARC, MX, MTA-STS, TLS-RPT and BIMI of ``brightmart.example`` and its sending
  subdomains, the ESPs' include trees and DKIM keys, and the PTRs of every sending IP;
- ``dns/web/``: what the offline web fetcher serves (the MTA-STS policy, the BIMI logo);
- ``.keys/<domain>/<selector>.pem``: our DKIM private keys (0600; in a hidden folder so that
  ``workbench load`` on the world never reads a private key into the quarantine table).

Planted faults (what the audit must find):

1. ``contact.``: 15 DNS-querying terms through its include tree (limit 10);
2. ``news.`` selector ``bm2025``: DNS still publishes the key from before the last rotation;
3. ``tx.``: DMARC ``p=none`` without ``rua``;
4. ``192.0.2.11`` (``mta2``): its PTR name resolves to ``192.0.2.12`` (no FCrDNS);

and smaller ones: ``notify.`` keeps DMARCbis-removed ``pct=50``, the ``bm2025`` keys are
older than a year, and the sending subdomains publish no MTA-STS. Keys are derived from the seed, so the same seed writes the
same bytes (these keys are for the synthetic world only: never sign real mail with them).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from workbench.auth.dkim_keys import DkimKey, store_key, txt_strings
from workbench.synth.world import World

__all__ = ["ZONE_FILE", "world_keys", "write_dns", "zone_text"]

ZONE_FILE = "brightmart.example.zone"
_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p**0.5) + 1))]

#: our own DKIM keys: (domain prefix, selector, age in days at the end of the window)
OUR_KEYS = [("", "bm2026", 200), ("news.", "bm2026", 200), ("news.", "bm2025", 560), ("tx.", "bm2026", 200),
            ("tx.", "bm2025", 560)]

LOGO = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 64 64">
  <title>Brightmart</title>
  <rect width="64" height="64" fill="#ffffff"/>
  <circle cx="32" cy="32" r="24" fill="#f5a300"/>
</svg>
"""


def _is_prime(n: int, rng: random.Random) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(12):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng: random.Random, bits: int, e: int) -> int:
    while True:
        n = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if (n - 1) % e and _is_prime(n, rng):
            return n


@lru_cache(maxsize=64)
def seeded_rsa(seed: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """An RSA key derived from ``seed`` (deterministic: for the synthetic world only)."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    e = 65537
    p, q = _prime(rng, bits // 2, e), _prime(rng, bits // 2, e)
    if p < q:
        p, q = q, p
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q))
    return numbers.private_key()


def world_keys(world: World, seed: int, end: date | None = None) -> list[DkimKey]:
    """Our DKIM keys in the world (derived from the seed; created ``age`` days before ``end``)."""
    end = end or date.today()
    return [DkimKey(f"{prefix}{world.root}", selector, seeded_rsa(f"{seed}/{prefix}{world.root}/{selector}"),
                    end - timedelta(days=age)) for prefix, selector, age in OUR_KEYS]


def _txt(name: str, record: str) -> str:
    return f"{name} IN TXT " + " ".join(f'"{s}"' for s in txt_strings(record))


@dataclass(frozen=True)
class _Esp:
    """The ESP records the world needs (SendGrid and Amazon SES stand-ins)."""

    seed: int

    def key(self, name: str) -> str:
        """An ESP's published key (Ed25519 from the seed: cheap, and not ours to check)."""
        raw = hashlib.sha256(f"{self.seed}/esp/{name}".encode()).digest()
        return DkimKey("esp", "esp", ed25519.Ed25519PrivateKey.from_private_bytes(raw)).txt_record()


def zone_text(world: World, seed: int = 42) -> str:
    """The zone file text (see the module docstring)."""
    root = world.root
    keys = {(k.domain, k.selector): k for k in world_keys(world, seed)}
    stale = DkimKey(f"news.{root}", "bm2025", seeded_rsa(f"{seed}/news.{root}/bm2025/before-rotation"))
    esp = _Esp(seed)
    ip = {i.hostname: i.ip for i in world.ips}
    lines = [
        f"; Brightmart's DNS for the synthetic world (seed {seed}). Absolute names, origin the root:",
        "; serve it as the root zone (tests: Knot DNS) or read it offline (workbench audit --offline).",
        "$TTL 3600",
        f"$ORIGIN {root}.",
        '@                  IN TXT "v=spf1 mx -all"',
        "@                  IN MX 10 mx1",
        "@                  IN A 192.0.2.80",
        "mx1                IN A 192.0.2.25",
        "mta-sts            IN A 192.0.2.80",
        f'_dmarc             IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{root},mailto:brightmart@reports.dmarc-analyzer.example; adkim=r; aspf=r"',
        '_mta-sts           IN TXT "v=STSv1; id=20260301T000000"',
        f'_smtp._tls         IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@{root}"',
        f'default._bimi      IN TXT "v=BIMI1; l=https://{root}/bimi/logo.svg; a=https://{root}/bimi/vmc.pem"',
        _txt("bm2026._domainkey", keys[(root, "bm2026")].txt_record()),
        "; news. (newsletter, dedicated IPs) -- bm2025 still publishes the key from before the rotation",
        f'news               IN TXT "v=spf1 ip4:{ip[f"mta1.{root}"]} ip4:{ip[f"mta2.{root}"]} -all"',
        "news               IN MX 10 mx1",
        f'_dmarc.news        IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@{root}"',
        _txt("bm2026._domainkey.news", keys[(f"news.{root}", "bm2026")].txt_record()),
        _txt("bm2025._domainkey.news", stale.txt_record()),
        "; contact. (promotions through SendGrid) -- 15 DNS-querying terms through the include tree",
        'contact            IN TXT "v=spf1 include:sendgrid.example include:_spf.google.example '
        'include:spf.protection.outlook.example include:_spf.salesforce.example include:mail.zendesk.example ~all"',
        "contact            IN MX 10 mx.sendgrid.example.",
        "s1._domainkey.contact IN CNAME s1.domainkey.u1234.wl.sendgrid.example.",
        "s2._domainkey.contact IN CNAME s2.domainkey.u1234.wl.sendgrid.example.",
        "; tx. (transactional, Postfix) -- DMARC p=none without rua",
        f'tx                 IN TXT "v=spf1 ip4:{ip[f"mta1.{root}"]} ip4:{ip[f"mta2.{root}"]} -all"',
        "tx                 IN MX 10 mx1",
        '_dmarc.tx          IN TXT "v=DMARC1; p=none"',
        _txt("bm2026._domainkey.tx", keys[(f"tx.{root}", "bm2026")].txt_record()),
        _txt("bm2025._domainkey.tx", keys[(f"tx.{root}", "bm2025")].txt_record()),
        "; notify. (alerts through Amazon SES) -- keeps the removed pct=",
        'notify             IN TXT "v=spf1 include:amazonses.example -all"',
        "notify             IN MX 10 feedback-smtp.eu-west-1.amazonses.example.",
        f'_dmarc.notify      IN TXT "v=DMARC1; p=quarantine; pct=50; rua=mailto:dmarc@{root}"',
        "s1._domainkey.notify IN CNAME s1.dkim.amazonses.example.",
        "s2._domainkey.notify IN CNAME s2.dkim.amazonses.example.",
        "; our MTAs -- mta2's name points at .12: no forward-confirmed reverse DNS for 192.0.2.11",
        f"mta1               IN A {ip[f'mta1.{root}']}",
        "mta2               IN A 192.0.2.12",
        "$ORIGIN 2.0.192.in-addr.arpa.",
        f"10                 IN PTR mta1.{root}.",
        f"11                 IN PTR mta2.{root}.",
        f"25                 IN PTR mx1.{root}.",
        "$ORIGIN reports.dmarc-analyzer.example.",
        '@                  IN MX 10 mx.dmarc-analyzer.example.',
        f'{root}._report._dmarc IN TXT "v=DMARC1"',
        "$ORIGIN sendgrid.example.",
        '@                  IN TXT "v=spf1 include:_spf1.sendgrid.example include:_spf2.sendgrid.example -all"',
        '_spf1              IN TXT "v=spf1 ip4:198.51.100.0/25 -all"',
        '_spf2              IN TXT "v=spf1 ip4:198.51.100.128/25 -all"',
        "mx                 IN A 198.51.100.50",
        _txt("s1.domainkey.u1234.wl", esp.key("sendgrid-s1")),
        _txt("s2.domainkey.u1234.wl", esp.key("sendgrid-s2")),
        "$ORIGIN google.example.",
        '_spf               IN TXT "v=spf1 include:_netblocks.google.example include:_netblocks2.google.example include:_netblocks3.google.example ~all"',
        '_netblocks         IN TXT "v=spf1 ip4:172.16.0.0/16 ~all"',
        '_netblocks2        IN TXT "v=spf1 ip6:2001:db8:4860::/48 ~all"',
        '_netblocks3        IN TXT "v=spf1 ip4:172.17.0.0/16 ~all"',
        "$ORIGIN protection.outlook.example.",
        'spf                IN TXT "v=spf1 include:spfa.protection.outlook.example include:spfb.protection.outlook.example -all"',
        'spfa               IN TXT "v=spf1 ip4:10.20.0.0/16 -all"',
        'spfb               IN TXT "v=spf1 ip4:10.21.0.0/16 -all"',
        "$ORIGIN salesforce.example.",
        '_spf               IN TXT "v=spf1 exists:%{i}._spf.mta.salesforce.example include:_spf2.salesforce.example -all"',
        '_spf2              IN TXT "v=spf1 ip4:10.30.0.0/16 -all"',
        "$ORIGIN zendesk.example.",
        'mail               IN TXT "v=spf1 include:_spf.zendesk.example ~all"',
        '_spf               IN TXT "v=spf1 ip4:10.40.0.0/16 ~all"',
        "$ORIGIN 100.51.198.in-addr.arpa.",
        *[f"{i.ip.rsplit('.', 1)[1]:<18} IN PTR {i.hostname}." for i in world.ips if i.ip.startswith("198.51.100.")],
        "$ORIGIN amazonses.example.",
        '@                  IN TXT "v=spf1 ip4:203.0.113.0/24 -all"',
        "feedback-smtp.eu-west-1 IN A 203.0.113.5",
        _txt("s1.dkim", esp.key("ses-s1")),
        _txt("s2.dkim", esp.key("ses-s2")),
        "$ORIGIN 113.0.203.in-addr.arpa.",
        *[f"{i.ip.rsplit('.', 1)[1]:<18} IN PTR {i.hostname}." for i in world.ips if i.ip.startswith("203.0.113.")],
        "$ORIGIN .",
        *[f"{i.hostname}. IN A {i.ip}" for i in world.ips if not i.hostname.endswith(root)],
    ]
    return "\n".join(lines) + "\n"


def write_dns(out: Path, world: World, seed: int = 42, end: date | None = None) -> Path:
    """Write the zone file, the offline web documents and our keys under ``out``; returns the zone path."""
    dns_dir = out / "dns"
    dns_dir.mkdir(parents=True, exist_ok=True)
    zone = dns_dir / ZONE_FILE
    zone.write_text(zone_text(world, seed), encoding="utf-8")
    policy = dns_dir / "web" / f"mta-sts.{world.root}" / ".well-known" / "mta-sts.txt"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(f"version: STSv1\nmode: enforce\nmx: mx1.{world.root}\nmax_age: 604800\n", encoding="utf-8")
    logo = dns_dir / "web" / world.root / "bimi" / "logo.svg"
    logo.parent.mkdir(parents=True, exist_ok=True)
    logo.write_bytes(LOGO)
    for key in world_keys(world, seed, end):
        store_key(key, out / ".keys", overwrite=True)
    return zone
