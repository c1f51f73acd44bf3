"""Tracking tokens: round trips, one salt per kind, key rotation, forgery and tampering."""

from __future__ import annotations

import os
import stat

import pytest

from workbench.errors import ConfigError
from workbench.tracking.tokens import BadToken, Ref, Tokens, tracking_keys

REF = Ref("<m1@news.brightmart.example>", "news-1", "C0000001", "newsletter", 1_795_000_000)


def test_round_trips():
    tokens = Tokens([b"k1"], "https://t.example/")
    assert tokens.parse("open", tokens.token("open", REF)) == (REF, None)
    url = "https://shop.example/p?x=1&y=é"
    assert tokens.parse("click", tokens.token("click", REF, url)) == (REF, url)
    assert tokens.open_url(REF).startswith("https://t.example/o/") and tokens.open_url(REF).endswith(".gif")
    assert tokens.click_url(REF, url).startswith("https://t.example/c/")
    assert tokens.unsubscribe_url(REF).startswith("https://t.example/u/")


def test_no_address_in_a_token():
    token = Tokens([b"k"], "https://t").token("unsubscribe", REF)
    import base64

    payload = base64.urlsafe_b64decode(token.split(".")[0] + "==").decode()
    assert "C0000001" in payload and "@example.com" not in payload


@pytest.mark.parametrize("kind", ["open", "click", "unsubscribe"])
def test_forged_altered_and_foreign_tokens_are_refused(kind):
    tokens = Tokens([b"k1"], "https://t")
    good = tokens.token(kind, REF, "https://shop.example/")
    payload, _, signature = good.rpartition(".")
    for bad in (good[:-1] + ("A" if good[-1] != "A" else "B"), payload + "x." + signature, "nonsense", "",
                Tokens([b"other"], "https://t").token(kind, REF, "https://shop.example/"), "a." * 3000):
        with pytest.raises(BadToken):
            tokens.parse(kind, bad)
    other_kind = {"open": "click", "click": "unsubscribe", "unsubscribe": "open"}[kind]
    with pytest.raises(BadToken):
        tokens.parse(other_kind, good)
    with pytest.raises(BadToken):
        tokens.parse("bogus", good)


def test_key_rotation_verifies_old_tokens_and_signs_with_the_new_key():
    old = Tokens([b"old"], "https://t")
    token = old.token("open", REF)
    rotated = Tokens([b"new", b"old"], "https://t")
    assert rotated.parse("open", token)[0] == REF
    assert Tokens([b"new"], "https://t").parse("open", rotated.token("open", REF))[0] == REF
    with pytest.raises(ConfigError):
        Tokens([], "https://t")


def test_keys_from_the_environment_or_a_private_file(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_TRACKING_KEY", "new-key, old-key")
    assert tracking_keys(tmp_path) == [b"new-key", b"old-key"]
    monkeypatch.delenv("WORKBENCH_TRACKING_KEY")
    first = tracking_keys(tmp_path / "keys")
    assert first == tracking_keys(tmp_path / "keys") and len(first[0]) >= 40
    assert stat.S_IMODE(os.stat(tmp_path / "keys" / "tracking.key").st_mode) == 0o600
    with pytest.raises(ConfigError):
        tracking_keys(None)
