"""DKIM selector checks: every finding a published key can earn, from a zone."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from workbench.auth.dkim import check_selector, key_bits, parse_key_record
from workbench.auth.dkim_keys import DkimKey, generate_key, txt_strings
from workbench.auth.resolver import RecordsResolver
from workbench.auth.sansio import drive
from workbench.synth.zone import seeded_rsa


def strings(record: str) -> str:
    return " ".join(f'"{s}"' for s in txt_strings(record))


def spki(bits: int) -> str:
    key = seeded_rsa(f"test/{bits}", bits)  # cryptography refuses to generate keys under 1024 bits
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> DkimKey:
    return generate_key("example.com", "k1", keys_dir=tmp_path_factory.mktemp("keys"), created=date(2025, 1, 1))


@pytest.fixture(scope="module")
def zone(ours: DkimKey) -> RecordsResolver:
    other = DkimKey("example.com", "k1", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    text = "\n".join([
        f"k1._domainkey.example.com. TXT {strings(ours.txt_record())}",
        f"old._domainkey.example.com. TXT {strings(other.txt_record())}",
        f"test._domainkey.example.com. TXT {strings(ours.txt_record(testing=True))}",
        'revoked._domainkey.example.com. TXT "v=DKIM1; k=rsa; p="',
        'broken._domainkey.example.com. TXT "v=DKIM1; k=rsa; p=%%%"',
        f'weak._domainkey.example.com. TXT "v=DKIM1; p={spki(512)}"',
        f'short._domainkey.example.com. TXT "v=DKIM1; p={spki(1024)}"',
        f"tls._domainkey.example.com. TXT {strings(ours.txt_record().replace('k=rsa;', 'k=rsa; s=tlsrpt;'))}",
        "esp._domainkey.example.com. CNAME esp1.dkim.esp.example.",
        f"esp1.dkim.esp.example. TXT {strings(other.txt_record())}",
    ])
    return RecordsResolver.from_text(text)


def codes(zone: RecordsResolver, selector: str, key: DkimKey | None, today: date | None = None) -> list[str]:
    findings = drive(check_selector("example.com", selector, key.info() if key else None, today=today, managed_by="esp"), zone)
    return sorted(f.code for f in findings)


@pytest.mark.parametrize("selector, expected", [
    ("k1", ["dkim.ok"]),
    ("old", ["dkim.key_mismatch"]),
    ("test", ["dkim.testing"]),
    ("revoked", ["dkim.revoked"]),
    ("broken", ["dkim.syntax"]),
    ("tls", ["dkim.not_email"]),
    ("missing", ["dkim.missing"]),
])
def test_check_selector_with_our_key(zone: RecordsResolver, ours: DkimKey, selector: str, expected: list[str]) -> None:
    assert codes(zone, selector, ours) == expected


def test_key_sizes_and_esp_keys(zone: RecordsResolver) -> None:
    assert codes(zone, "weak", None) == ["dkim.no_private_key", "dkim.weak_key"]
    assert codes(zone, "short", None) == ["dkim.no_private_key", "dkim.short_key"]
    assert codes(zone, "esp", None) == ["dkim.no_private_key", "dkim.ok"]  # a CNAME to the ESP's key


def test_key_age(zone: RecordsResolver, ours: DkimKey) -> None:
    assert codes(zone, "k1", ours, today=date(2025, 6, 1)) == ["dkim.ok"]
    assert codes(zone, "k1", ours, today=date(2026, 6, 1)) == ["dkim.key_old"]


def test_fixes_publish_our_key(zone: RecordsResolver, ours: DkimKey) -> None:
    (mismatch,) = drive(check_selector("example.com", "old", ours.info()), zone)
    assert mismatch.fix.startswith("old._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p=")
    (missing,) = drive(check_selector("example.com", "missing", None, managed_by="esp"), zone)
    assert "your ESP gives" in missing.fix


def test_dns_error() -> None:
    resolver = RecordsResolver()
    resolver.add_timeout("k1._domainkey.example.com")
    assert [f.code for f in drive(check_selector("example.com", "k1", None), resolver)] == ["dkim.dns_error"]


def test_pkcs1_keys_are_read_like_dkimpy_does() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs1 = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    assert key_bits("rsa", base64.b64encode(pkcs1).decode()) == 2048
    assert parse_key_record(f"p={base64.b64encode(pkcs1).decode()}").bits == 2048


def test_generated_keys_round_trip_through_pem(tmp_path: Path) -> None:
    key = generate_key("example.com", "rt", keys_dir=tmp_path)
    assert key.path is not None
    loaded = serialization.load_pem_private_key(key.path.read_bytes(), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey) and loaded.key_size == 2048
    assert key.dkimpy_private_key().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    ed = generate_key("example.com", "ed", algorithm="ed25519", keys_dir=tmp_path)
    assert len(base64.b64decode(ed.dkimpy_private_key())) == 32 and ed.signature_algorithm == b"ed25519-sha256"
