"""The fast DKIM signer is dkimpy, byte for byte, only faster; every signature verifies with
dkimpy, offline and through a real DNS server (Knot) publishing the keys."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import dkim
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.canonicalization import CanonicalizationPolicy

from workbench.auth.dkim import verify_message
from workbench.auth.dkim_keys import DkimKey, txt_strings
from workbench.auth.resolver import LiveResolver, RecordsResolver
from workbench.sending.compose import MessageSpec, compose
from workbench.sending.signing import SIGNED_HEADERS, DkimSigner, canonical_body, canonical_headers
from workbench.sending.templates import compile_template, load_template

DOMAIN = "news.brightmart.example"
STAMP = 1_795_000_000


@pytest.fixture(scope="module")
def keys() -> dict[str, DkimKey]:
    return {"rsa": DkimKey(DOMAIN, "s2048", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "ed": DkimKey(DOMAIN, "ed1", ed25519.Ed25519PrivateKey.generate())}


def _zone(keys: dict[str, DkimKey]) -> str:
    lines = []
    for key in keys.values():
        strings = " ".join(f'"{s}"' for s in txt_strings(key.txt_record()))
        lines.append(f"{key.record_name}. 300 IN TXT {strings}")
    return "\n".join(lines) + "\n"


def _message(**changes: object):
    rendered = compile_template(load_template("newsletter")).render(
        {"first_name": "Ana", "city": "Paris", "email": "ana@example.com", "campaign_id": "c1",
         "unsubscribe_url": "https://t.example/u/x"})
    spec = dict(message_id="<m1@news.brightmart.example>", from_addr=f"news@{DOMAIN}", to="ana@example.com",
                subject=rendered.subject, html=rendered.html, text=rendered.text, date=datetime(2026, 11, 27, tzinfo=UTC),
                return_path=f"bounce@{DOMAIN}", from_name="Brightmart",
                list_unsubscribe=(f"mailto:u@{DOMAIN}", "https://t.example/u/x"), feedback_id="c1:newsletter:bm:bm1",
                trace="v=1; c=c1; r=C1")
    spec.update(changes)
    return compose(MessageSpec(**spec))  # type: ignore[arg-type]


def _dkimpy(message: bytes, key: DkimKey, include: list[bytes], monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setattr(dkim.time, "time", lambda: STAMP)
    signature: bytes = dkim.sign(message, key.selector.encode(), key.domain.encode(), key.dkimpy_private_key(),
                                 canonicalize=(b"relaxed", b"relaxed"), include_headers=include,
                                 signature_algorithm=key.signature_algorithm)
    return signature


@pytest.mark.parametrize("kind", ["rsa", "ed"])
def test_signature_is_byte_identical_to_dkimpy(keys, kind, monkeypatch):
    composed = _message()
    signer = DkimSigner([keys[kind]])
    (ours,) = signer.sign(composed.headers, composed.body, timestamp=STAMP)
    present = {n.lower() for n, _ in composed.headers}
    include = [h for h in SIGNED_HEADERS if h in present]
    assert ours == _dkimpy(composed.as_bytes(), keys[kind], include, monkeypatch)
    assert b"h=from : to : subject : date : message-id" in ours.replace(b"\r\n ", b" ").replace(b"\r\n", b"")


def test_dual_signing_verifies_both_offline_and_through_knot(keys, knot_server):
    composed = _message()
    signed = composed.as_bytes(DkimSigner([keys["ed"], keys["rsa"]]).sign(composed.headers, composed.body))
    assert signed.count(b"DKIM-Signature:") == 2
    assert verify_message(signed, RecordsResolver.from_text(_zone(keys))) == [True, True]
    host, port = knot_server(_zone(keys))
    assert verify_message(signed, LiveResolver([f"{host}:{port}"])) == [True, True]


def test_a_changed_message_fails(keys):
    composed = _message()
    signed = composed.as_bytes(DkimSigner([keys["rsa"]]).sign(composed.headers, composed.body))
    resolver = RecordsResolver.from_text(_zone(keys))
    assert verify_message(signed.replace(b"Hello Ana", b"Hello Bob"), resolver) == [False]
    assert verify_message(signed.replace(b"Subject: Ana", b"Subject: Bob", 1), resolver) == [False]
    unsub_gone = signed.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", b"")
    assert verify_message(unsub_gone, resolver) == [False]  # Gmail wants the one-click headers covered


def test_sign_message_parses_like_dkimpy(keys):
    data = b"From: a@news.brightmart.example\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody  with  spaces \r\n\r\n\r\n"
    signed = DkimSigner([keys["rsa"]]).sign_message(data)
    assert verify_message(signed, RecordsResolver.from_text(_zone(keys))) == [True]


def _random_body(rng: random.Random) -> bytes:
    pieces = [b"a", b"b", b" ", b"  ", b"\t", b" \t ", b"\r\n", b"\r\n\r\n", b"=20", b".", b"x y"]
    return b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))


@pytest.mark.parametrize("c", [b"relaxed/relaxed", b"simple/simple", b"relaxed/simple"])
def test_canonicalisation_shortcuts_equal_dkimpy_on_random_input(c):
    policy = CanonicalizationPolicy.from_c_value(c)
    rng = random.Random(8)
    for _ in range(3000):
        body = _random_body(rng)
        assert canonical_body(policy, body) == policy.canonicalize_body(body), body
    for _ in range(2000):
        value = b" " + _random_body(rng).replace(b"\r\n\r\n", b"\r\n ") + b"\r\n"
        headers = [(rng.choice([b"Subject", b"X-Y ", b"to"]), value)]
        assert canonical_headers(policy, headers) == policy.canonicalize_headers(headers), value
    assert canonical_body(policy, b"") == policy.canonicalize_body(b"")
    assert canonical_body(policy, b"\r\n") == policy.canonicalize_body(b"\r\n")


def test_a_signer_needs_a_key():
    with pytest.raises(ValueError):
        DkimSigner([])
