"""Provider rules: each field of ``providers.yaml`` (text, reply, status, status_range, code,
class_not, loose, require, codes tables, case_sensitive), on a provider of the test's own,
and the packaged providers on their documented texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.feedback.decide import decide
from workbench.feedback.model import Delivery
from workbench.feedback.rules import RuleSet, default_rules

PROVIDER = """
providers:
  testmail:
    hosts: [.mx.testmail.example]
    domains: [testmail.example]
    rules:
      - {reason: suspend, text: "account frozen", reply: ["550"], status: ["5.2.1"]}
      - {reason: speeding, text: "slow down", status_range: ["4.7.", 500, 599]}
      - {reason: blocked, text: "not welcome", class_not: ["4"]}
      - {reason: policyviolation, code: "TM-P7"}
      - {reason: toomanyconn, code: "TM-C1", reply: ["421"]}
    codes:
      regex: "tmcode=(\\\\d+)"
      table: {"12": mailboxfull, "13": ""}
  loosemail:
    hosts: [.mx.loose.example]
    loose: true
    require: [reply, status]
    rules:
      - {reason: authfailure, text: "authenticate", reply: ["550"], status: ["5.7.26"]}
  casemail:
    hosts: [.mx.case.example]
    case_sensitive: true
    rules:
      - {reason: rejected, text: "REJ-42"}
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    path = tmp_path_factory.mktemp("rules") / "providers.yaml"
    path.write_text(PROVIDER)
    return RuleSet.load([path])


def reason(rules: RuleSet, text: str, status: str = "", reply: str = "", host: str = "in1.mx.testmail.example",
           domain: str = "") -> tuple[str, str]:
    d = Delivery(recipient=f"x@{domain or 'other.example'}", status=status, reply_code=reply, diagnostic=text,
                 spec="SMTP", remote_mta=host)
    return decide(d, rules, domain)


def test_text_reply_and_status_must_all_hold(rules: RuleSet) -> None:
    assert reason(rules, "550 5.2.1 account frozen", "5.2.1", "550") == ("suspend", 'provider:testmail "account frozen"')
    assert reason(rules, "550 5.2.1 account frozen", "5.2.1", "554") == ("filtered", "status:5.2.1")
    assert reason(rules, "550 5.2.2 account frozen", "5.2.2", "550")[0] != "suspend"


def test_status_range(rules: RuleSet) -> None:
    assert reason(rules, "421 4.7.512 slow down", "4.7.512", "421")[0] == "speeding"
    assert reason(rules, "421 4.7.650 slow down", "4.7.650", "421") == ("securityerror", "status:4.7.650 (class)")
    assert reason(rules, "421 4.4.512 slow down", "4.4.512", "421")[0] != "speeding"


def test_class_not(rules: RuleSet) -> None:
    assert reason(rules, "550 not welcome here", "5.7.1", "550")[0] == "blocked"
    # a 4xx skips the rule: the status code decides instead
    assert reason(rules, "450 not welcome here", "4.7.1", "450") == ("blocked", "status:4.7.1")


def test_codes_are_exact_and_may_need_a_reply(rules: RuleSet) -> None:
    assert reason(rules, "554 rejected TM-P7 see help", "5.7.1", "554") == ("policyviolation", "provider:testmail code TM-P7")
    assert reason(rules, "554 rejected tm-p7", "5.7.1", "554")[0] != "policyviolation"
    assert reason(rules, "421 TM-C1 too many", "4.7.0", "421") == ("toomanyconn", "provider:testmail code TM-C1")
    assert reason(rules, "451 TM-C1 too many", "4.7.0", "451") == ("securityerror", "status:4.7.0 (class)")


def test_code_table_first_and_empty_entries_fall_through(rules: RuleSet) -> None:
    assert reason(rules, "550 account frozen tmcode=12", "5.2.1", "550") == ("mailboxfull", "provider:testmail code 12")
    assert reason(rules, "550 account frozen tmcode=13", "5.2.1", "550")[0] == "suspend"


def test_the_provider_is_found_by_domain_too(rules: RuleSet) -> None:
    assert reason(rules, "550 5.2.1 account frozen", "5.2.1", "550", host="", domain="testmail.example")[0] == "suspend"
    assert reason(rules, "550 5.2.1 account frozen", "5.2.1", "550", host="mx.elsewhere.example")[0] != "suspend"


def test_loose_matching_ignores_the_class_and_require_needs_codes(rules: RuleSet) -> None:
    host = "a.mx.loose.example"
    assert reason(rules, "450 4.7.26 please authenticate", "4.7.26", "450", host=host)[0] == "authfailure"
    assert reason(rules, "please authenticate", "", "", host=host) == (
        "onhold", "fallback:onhold (no rule matched the diagnostic)")


def test_case_sensitive_texts(rules: RuleSet) -> None:
    host = "x.mx.case.example"
    assert reason(rules, "550 REJ-42 policy", "5.7.1", "550", host=host) == ("rejected", 'provider:casemail "REJ-42"')
    assert reason(rules, "550 rej-42 policy", "5.7.1", "550", host=host) == ("securityerror", "status:5.7.1")


@pytest.mark.parametrize(
    ("host", "diagnostic", "status", "reply", "expected"),
    [
        ("gmail-smtp-in.l.google.com",
         "550-5.7.1 [192.0.2.1] Gmail has detected that this message is likely unsolicited mail.", "5.7.1", "550",
         "spamdetected"),
        ("gmail-smtp-in.l.google.com",
         "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address.",
         "4.7.28", "421", "blocked"),
        ("gmail-smtp-in.l.google.com",
         "550-5.1.1 The email account that you tried to reach does not exist.", "5.1.1", "550", "userunknown"),
        ("example-com.mail.protection.outlook.com",
         "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.", "4.7.650",
         "451", "badreputation"),
        ("mx.orange.fr", "550 5.2.2 Boite du destinataire pleine. OFR_417 [417]", "5.2.2", "550", "mailboxfull"),
        ("mx01.mail.icloud.com", "550 5.1.1 <a@icloud.com>: user does not exist", "5.1.1", "550", "userunknown"),
    ],
)
def test_packaged_providers(host: str, diagnostic: str, status: str, reply: str, expected: str) -> None:
    d = Delivery(recipient="x@example.net", status=status, reply_code=reply, diagnostic=diagnostic, spec="SMTP",
                 remote_mta=host)
    got, rule = decide(d, default_rules())
    assert got == expected
    assert rule.startswith(("provider:", "status:", "text:"))


def test_packaged_provider_files_parse(tmp_path: Path) -> None:
    rules = default_rules()
    for provider in rules.providers.values():
        assert provider.hosts or provider.domains, provider.name
        for rule in provider.rules:
            assert rule.text or rule.code, (provider.name, rule)
