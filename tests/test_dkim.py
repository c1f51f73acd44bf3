"""DKIM: the RFC 6376 and RFC 8463 examples verify; our keys, published in Knot, verify what we sign."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from workbench.auth.dkim import (
    DkimRecordError,
    matches,
    parse_key_record,
    sign_message,
    verify_message,
)
from workbench.auth.dkim_keys import DkimKey, generate_key, list_keys, load_private_key, txt_strings
from workbench.auth.resolver import LiveResolver, RecordsResolver
from workbench.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures" / "auth" / "dkim"
MESSAGE = (
    b"From: Brightmart News <news@news.brightmart.example>\r\n"
    b"To: alice@example.com\r\n"
    b"Subject: This week at Brightmart\r\n"
    b"Date: Thu, 26 Nov 2026 09:00:00 +0000\r\n"
    b"Message-ID: <n1@news.brightmart.example>\r\n"
    b"\r\n"
    b"Hello Alice,\r\n\r\nNew arrivals you'll love.\r\n"
)


def zone_for(*keys: DkimKey) -> str:
    lines = []
    for key in keys:
        strings = " ".join(f'"{s}"' for s in txt_strings(key.txt_record()))
        lines.append(f"{key.record_name}. 300 IN TXT {strings}")
    return "\n".join(lines) + "\n"


def test_rfc8463_example_verifies_both_signatures() -> None:
    resolver = RecordsResolver.from_zone_files([FIXTURES / "rfc8463-a2.zone"])
    message = (FIXTURES / "rfc8463-a3-signed.eml").read_bytes()
    assert verify_message(message, resolver) == [True, True]  # Ed25519 (brisbane), then RSA (test)
    assert verify_message(message.replace(b"hungry", b"angry"), resolver) == [False, False]


def test_rfc6376_appendix_a2_example_verifies() -> None:
    """The A.2 signature verifies with the Appendix C key once the figure's two typographic
    artefacts are undone (continuation lines indented six columns; one space after "game.")."""
    resolver = RecordsResolver.from_zone_files([FIXTURES / "rfc6376-appendix-c.zone"])
    message = (FIXTURES / "rfc6376-a2-signed.eml").read_bytes()
    assert verify_message(message, resolver) == [True]
    assert verify_message(message.replace(b"game. Are", b"game.  Are"), resolver) == [False]


def test_rfc6376_appendix_c_key_signs_and_verifies(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key((FIXTURES / "rfc6376-appendix-c.key").read_bytes(), password=None)
    key = DkimKey("example.com", "brisbane", private)  # type: ignore[arg-type]
    published = parse_key_record(RecordsResolver.from_zone_files([FIXTURES / "rfc6376-appendix-c.zone"])
                                 .resolve("brisbane._domainkey.example.com", "TXT").rrset[0].to_text().strip('"'))
    assert published.bits == 1024 and matches(published, key)
    message = b"From: joe@example.com\r\nTo: suzie@example.net\r\nSubject: hi\r\n\r\nHi.\r\n"
    signed = sign_message(message, key) + message
    assert verify_message(signed, RecordsResolver.from_zone_files([FIXTURES / "rfc6376-appendix-c.zone"])) == [True]


def test_generated_keys_are_private_files(tmp_path: Path) -> None:
    key = generate_key("news.brightmart.example", "bm2026", keys_dir=tmp_path)
    assert key.path is not None and stat.S_IMODE(key.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "news.brightmart.example").stat().st_mode) == 0o700
    assert key.bits == 2048 and key.algorithm == "rsa"
    loaded = load_private_key("news.brightmart.example", "bm2026", tmp_path)
    assert loaded.public_key_b64() == key.public_key_b64()
    assert loaded.created is not None
    with pytest.raises(ConfigError, match="exists"):
        generate_key("news.brightmart.example", "bm2026", keys_dir=tmp_path)
    with pytest.raises(ConfigError, match="2048"):
        generate_key("news.brightmart.example", "weak", bits=1024, keys_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown"):
        generate_key("news.brightmart.example", "x", algorithm="dsa", keys_dir=tmp_path)
    os.chmod(key.path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_private_key("news.brightmart.example", "bm2026", tmp_path)
    with pytest.raises(ConfigError, match="keygen"):
        load_private_key("news.brightmart.example", "nope", tmp_path)
    with pytest.raises(ConfigError, match="bad domain"):
        load_private_key("../etc", "passwd", tmp_path)


def test_list_keys_and_txt_record(tmp_path: Path) -> None:
    generate_key("tx.brightmart.example", "ed2026", algorithm="ed25519", keys_dir=tmp_path)
    generate_key("news.brightmart.example", "bm2026", keys_dir=tmp_path)
    keys = list_keys(tmp_path)
    assert [(k.domain, k.selector, k.algorithm) for k in keys] == [
        ("news.brightmart.example", "bm2026", "rsa"), ("tx.brightmart.example", "ed2026", "ed25519")]
    rsa_record = keys[0].txt_record()
    assert rsa_record.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")
    assert len(txt_strings(rsa_record)) == 2 and all(len(s) <= 255 for s in txt_strings(rsa_record))
    assert keys[1].txt_record(testing=True).startswith("v=DKIM1; k=ed25519; t=y; p=")
    assert parse_key_record(keys[1].txt_record()).bits == 256


def test_parse_key_record_tags_and_errors() -> None:
    rec = parse_key_record("v=DKIM1; k=rsa; t=y:s; h=sha256; s=email; p=")
    assert rec.revoked and rec.testing and rec.strict and rec.hashes == ("sha256",) and rec.services == ("email",)
    assert parse_key_record("k=ed25519; p=" + "A" * 43 + "=").bits == 256
    for bad, why in [("v=DKIM2; p=", "DKIM1"), ("k=rsa", "p="), ("v=DKIM1; k=dsa; p=", "unknown"),
                     ("v=DKIM1; p=!!!", "base64"), ("p=; p=", "twice"), ("k=ed25519; p=AAAA", "32 bytes"),
                     ("v=DKIM1; garbage", "tag=value")]:
        with pytest.raises(DkimRecordError, match=why):
            parse_key_record(bad)


def test_key_match_detects_a_rotated_key(tmp_path: Path) -> None:
    ours = generate_key("news.brightmart.example", "bm2025", keys_dir=tmp_path)
    other = generate_key("news.brightmart.example", "old", keys_dir=tmp_path)
    assert matches(parse_key_record(ours.txt_record()), ours)
    assert not matches(parse_key_record(other.txt_record()), ours)
    assert not matches(parse_key_record("v=DKIM1; p="), ours)


def test_a_key_we_generate_published_in_knot_verifies_what_we_sign(knot_server, tmp_path: Path) -> None:
    rsa_key = generate_key("news.brightmart.example", "bm2026", keys_dir=tmp_path)
    ed_key = generate_key("news.brightmart.example", "ed2026", algorithm="ed25519", keys_dir=tmp_path)
    host, port = knot_server(zone_for(rsa_key, ed_key))
    resolver = LiveResolver([f"{host}:{port}"], timeout=1.0, lifetime=2.0)
    rsa_loaded = load_private_key("news.brightmart.example", "bm2026", tmp_path)
    ed_loaded = load_private_key("news.brightmart.example", "ed2026", tmp_path)
    dual = sign_message(MESSAGE, ed_loaded) + sign_message(MESSAGE, rsa_loaded) + MESSAGE
    assert verify_message(dual, resolver) == [True, True]
    assert verify_message(dual.replace(b"Alice", b"Mallory"), resolver) == [False, False]
    stranger = DkimKey("news.brightmart.example", "bm2026", generate_key("x.example", "s", keys_dir=tmp_path).private_key)
    assert verify_message(sign_message(MESSAGE, stranger) + MESSAGE, resolver) == [False]
