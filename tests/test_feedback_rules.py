"""Rules as data: the packaged tables, and users' rule files that teach the classifier
without touching code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.errors import ConfigError
from workbench.feedback import parse_message
from workbench.feedback.rules import PhraseSet, RuleSet, default_rules

#: Sisimai's taxonomy, as the issue lists it (and the rest of Sisimai's reasons)
TAXONOMY = {
    "authfailure", "badreputation", "blocked", "contenterror", "delivered", "exceedlimit", "expired", "failedstarttls",
    "feedback", "filtered", "hasmoved", "hostunknown", "mailboxfull", "mailererror", "mesgtoobig", "networkerror",
    "norelaying", "notaccept", "notcompliantrfc", "onhold", "policyviolation", "rejected", "requireptr",
    "securityerror", "spamdetected", "speeding", "suppressed", "suspend", "syntaxerror", "systemerror", "systemfull",
    "toomanyconn", "undefined", "userunknown", "vacation", "virusdetected",
}


def test_packaged_rules_cover_the_taxonomy() -> None:
    rules = default_rules()
    assert set(rules.reasons) == TAXONOMY
    assert rules.hard == {"hasmoved", "hostunknown", "userunknown"}
    assert all(rules.descriptions.get(r) for r in TAXONOMY)
    assert rules.status_name("5.1.1") == "userunknown"
    assert rules.status_name("5.2.2") == "mailboxfull"
    assert rules.status_name("9.9.9") == ""
    assert {"google", "microsoft", "yahoo", "apple", "orange"} <= set(rules.providers)
    assert {"exim", "qmail"} <= set(rules.mtas)


def test_every_status_maps_to_a_known_reason() -> None:
    rules = default_rules()
    assert set(rules.status.values()) <= TAXONOMY
    assert all(re.fullmatch(r"[245]\.\d\.\d{1,3}", code) for code in rules.status)


def test_provider_rules_name_known_reasons() -> None:
    rules = default_rules()
    for provider in rules.providers.values():
        for rule in provider.rules:
            assert rule.reason in TAXONOMY, (provider.name, rule)
        assert set(provider.codes.values()) <= TAXONOMY | {""}, provider.name
    for mta in rules.mtas.values():
        assert set(mta.reasons) <= TAXONOMY, mta.name


def test_phrases_are_lower_case_so_that_they_can_match() -> None:
    rules = default_rules()
    for name, phrases in rules.reasons.items():
        assert all(p == p.lower() for p in phrases.phrases), name
        assert all(all(x == x.lower() for x in seq) for seq in phrases.sequences), name


def test_phrase_set_finds_phrases_sequences_and_regexes_and_honours_unless() -> None:
    phrases = PhraseSet(phrases=("user unknown",), sequences=(("mailbox ", "does not exist"),),
                        regexes=(re.compile(r"no such (user|person)"),), unless=("vacation",))
    assert phrases.find("550 user unknown") == '"user unknown"'
    assert phrases.find("mailbox foo@bar does not exist") == '"mailbox … does not exist"'
    assert phrases.find("there is no such person") == "/no such (user|person)/"
    assert phrases.find("does not exist, mailbox") is None  # sequence order matters
    assert phrases.find("user unknown while on vacation") is None
    assert phrases.find("") is None


def test_match_names_the_phrase() -> None:
    assert default_rules().match("mailboxfull", "552 5.2.2 mailbox full") is not None
    assert default_rules().match("nosuchreason", "anything") is None


UNKNOWN_TEXT = b"""From: MAILER-DAEMON@mx.example-mail.net
To: newsletter@news.brightmart.example
Subject: Undeliverable message
Date: Mon, 23 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="u"

--u
Content-Type: text/plain

Zustellung fehlgeschlagen.

--u
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example-mail.net

Final-Recipient: rfc822; kunde@example-mail.net
Action: failed
Status: 5.0.0
Remote-MTA: dns; in1.mx.example-mail.net
Diagnostic-Code: smtp; 550 Postfach ist voll, bitte spaeter erneut versuchen

--u--
"""


def test_a_user_rules_file_teaches_a_new_text(tmp_path: Path) -> None:
    before = parse_message(UNKNOWN_TEXT).bounces[0]
    assert before.reason != "mailboxfull"
    rules_file = tmp_path / "ours.yaml"
    rules_file.write_text('reasons:\n  mailboxfull:\n    phrases: ["postfach ist voll"]\n', encoding="utf-8")
    rules = RuleSet.load([rules_file])
    after = parse_message(UNKNOWN_TEXT, rules).bounces[0]
    assert (after.reason, after.hard, after.rule) == ("mailboxfull", False, 'text:mailboxfull "postfach ist voll"')
    assert str(rules_file) in rules.sources
    # the packaged phrases are still there
    assert rules.match("mailboxfull", "mailbox full")


def test_a_user_provider_with_its_own_code(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "providers:\n  examplemail:\n    hosts: [.mx.example-mail.net]\n    rules:\n"
        "      - {reason: suspend, text: 'postfach ist voll'}\n", encoding="utf-8")
    (tmp_path / "ignored.txt").write_text("not yaml rules", encoding="utf-8")
    rules = RuleSet.load([tmp_path])  # a folder: every *.yaml in it
    bounce = parse_message(UNKNOWN_TEXT, rules).bounces[0]
    assert (bounce.reason, bounce.rule) == ("suspend", 'provider:examplemail "postfach ist voll"')


def test_user_provider_rules_extend_a_packaged_provider(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(
        "providers:\n  google:\n    hosts: [.google-extra.example]\n    rules:\n"
        "      - {reason: blocked, text: 'a brand new google text'}\n", encoding="utf-8")
    rules = RuleSet.load([tmp_path / "g.yaml"])
    google = rules.providers["google"]
    assert google.rules[0].text == "a brand new google text"  # the user's rules are tried first
    assert len(google.rules) == len(default_rules().providers["google"].rules) + 1
    assert ".google-extra.example" in google.hosts and "aspmx.l.google.com" in google.hosts


def test_a_user_status_mapping_overrides(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("status:\n  5.7.999: blocked\n", encoding="utf-8")
    assert RuleSet.load([tmp_path / "s.yaml"]).status_name("5.7.999") == "blocked"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a list\n- not a mapping\n", "a rules file is a mapping"),
        ("reasons:\n  blocked:\n    regex: ['(unclosed']\n", "bad phrase rules"),
        ("providers:\n  x:\n    rules:\n      - {text: 'no reason'}\n", "needs a reason"),
        ("providers:\n  x:\n    codes: {regex: '(bad'}\n", "bad codes regex"),
        ("reasons: [\n", "cannot read rules file"),
    ],
)
def test_bad_rules_files_say_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        RuleSet.load([path])


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read rules file"):
        RuleSet.load([tmp_path / "nope.yaml"])


def test_default_rules_are_loaded_once() -> None:
    assert default_rules() is default_rules()


def test_mta_texts_are_case_sensitive_unless_told(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "mtas:\n  mymta:\n    reasons:\n      mailboxfull: {phrases: ['Quota Exceeded']}\n"
        "  lowmta:\n    case_sensitive: false\n    reasons:\n      suspend: {phrases: ['Account Locked']}\n")
    rules = RuleSet.load([tmp_path / "m.yaml"])
    assert rules.mtas["mymta"].find("550 Quota Exceeded") == ("mailboxfull", '"Quota Exceeded"')
    assert rules.mtas["mymta"].find("550 quota exceeded") is None
    assert rules.mtas["lowmta"].find("550 ACCOUNT LOCKED") == ("suspend", '"account locked"')


def test_user_mta_texts_extend_the_packaged_ones(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text("mtas:\n  exim:\n    reasons:\n      mailboxfull: {phrases: ['Postfach voll']}\n")
    rules = RuleSet.load([tmp_path / "e.yaml"])
    exim = rules.mtas["exim"]
    assert exim.find("Postfach voll") == ("mailboxfull", '"Postfach voll"')
    assert exim.find("mailbox is full") == ("mailboxfull", '"mailbox is full"')
    assert exim.find("Unrouteable address") == ("hostunknown", '"Unrouteable address"')


def test_a_reason_of_the_users_own_is_kept_with_its_description(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "reasons:\n  greylisted:\n    description: temporarily refused, try again\n    phrases: ['greylisted']\n")
    rules = RuleSet.load([tmp_path / "r.yaml"])
    assert rules.descriptions["greylisted"] == "temporarily refused, try again"
    assert rules.match("greylisted", "451 4.7.1 you are greylisted") == '"greylisted"'
    assert "greylisted" not in rules.hard


def test_an_empty_rules_file_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    rules = RuleSet.load([tmp_path / "empty.yaml"])
    assert set(rules.reasons) == set(default_rules().reasons)
