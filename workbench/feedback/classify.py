"""From a message to its report: find the decoder, clean each record, decide its reason.

``parse_message(data)`` is the one entry point: bytes in, a :class:`Report` out (pure: no
file, network or clock). A complaint (ARF, JMRP, Apple unsubscribe) gives ``complaints``;
a bounce or an auto-reply gives ``bounces``; anything else a report of kind ``none``.
"""

from __future__ import annotations

import re

from workbench.feedback import arf, decoders, origin
from workbench.feedback.decide import decide, is_hard
from workbench.feedback.dsn import sweep
from workbench.feedback.mime import Mail, read_mail
from workbench.feedback.model import Bounce, Complaint, Delivery, Report
from workbench.feedback.rules import RuleSet, default_rules
from workbench.feedback.smtp import find_reply, find_status, is_status, prefer_status

__all__ = ["classify_record", "parse_message"]

_HTML = re.compile(r"<html>.*?</html>", re.IGNORECASE | re.DOTALL)
_HOST_SAID = re.compile(r"\bhost\s+([A-Za-z0-9][-A-Za-z0-9.]*\.[A-Za-z]{2,})[\s\[]")


def _clean_diagnostic(d: Delivery) -> None:
    """Status and reply code from the diagnostic; multi-line SMTP replies joined."""
    text = d.diagnostic.replace("\r", "")
    if not text:
        return
    cs = find_status(text)
    cr = find_reply(text, cs)
    d.status = prefer_status(d.status, cs, cr)
    if len(cr) == 3:
        d.set_if_empty("reply_code", cr)
        if f"{cr}-" in text:
            for sep in ("-", " "):
                if cs:
                    text = text.replace(f"{cr}{sep}{cs}", "")
                text = text.replace(f"{cr}{sep}", "")
            if cr in text:
                text = f"{cr} {cs} {text}"
    text = _HTML.sub(" ", text)
    d.diagnostic = sweep(text)


def _reply_agrees(d: Delivery) -> None:
    """Drop a reply code whose class contradicts the status (or find one that agrees)."""
    if d.status and d.reply_code and d.status[0] != d.reply_code[0]:
        other = find_reply(d.diagnostic, d.status[0])
        d.reply_code = other if other.startswith(d.status[0]) else ""


def classify_record(d: Delivery, rules: RuleSet, agent: str) -> Bounce:
    """Clean one decoded record and classify it."""
    d.agent = d.agent or agent
    _clean_diagnostic(d)
    if not d.remote_mta:
        match = _HOST_SAID.search(d.diagnostic)
        if match:
            d.remote_mta = match[1].lower()
    if d.status and not is_status(d.status):
        d.status = ""
    destination = d.recipient.rsplit("@", 1)[-1] if "@" in d.recipient else ""
    if d.reason in ("feedback", "vacation", "delivered") and d.rule:
        reason, rule = d.reason, d.rule
    else:
        reason, rule = decide(d, rules, destination)
    hard = False if reason in ("delivered", "feedback", "vacation") else is_hard(reason, d.status, d.diagnostic, rules)
    _reply_agrees(d)
    # no Action field: a bounce is a failure (an expired message too: the MTA gave up on it)
    action = d.action or ("delivered" if reason == "delivered" else
                          "failed" if d.status[:1] in ("4", "5") or reason == "expired" else "")
    if reason == "delivered":
        action = "delivered"
    return Bounce(
        recipient=d.recipient.lower(),
        reason=reason,
        hard=hard,
        rule=rule,
        action=action or None,
        status=d.status or None,
        reply_code=int(d.reply_code) if d.reply_code.isdigit() else None,
        diagnostic=d.diagnostic or None,
        command=d.command or None,
        remote_mta=d.remote_mta or None,
        reporting_mta=d.reporting_mta or None,
        agent=d.agent,
        alias=d.alias or None,
        feedback_type=d.feedback_type or None,
    )


def _bounce_report(mail: Mail, rules: RuleSet) -> Report | None:
    found = decoders.decode(mail, rules)
    if found is None:
        return None
    agent, records, original = found
    records = [r for r in records if "@" in r.recipient and not r.recipient.startswith("@")]
    feedback = [r for r in records if r.reason == "feedback"]
    if feedback:
        complaints = tuple(Complaint(feedback_type=r.feedback_type or "abuse", recipient=r.recipient,
                                     recipient_redacted=False, provider=agent, user_agent=r.diagnostic or None,
                                     source_ip=None, arrival_date=None, reported_domain=None, reporting_mta=None,
                                     original_mail_from=None, auth_results=None, version=None, format=agent,
                                     rule=r.rule) for r in feedback)
        return Report(kind="complaint", agent=agent, complaints=complaints, origin=origin.of(mail, original),
                      subject=mail.subject or None, sender=mail.first("from") or None)
    bounces = tuple(classify_record(r, rules, agent) for r in records)
    if not bounces:
        return None
    kinds = {b.reason for b in bounces}
    kind = "autoreply" if kinds == {"vacation"} else "delivery" if kinds == {"delivered"} else "bounce"
    return Report(kind=kind, agent=agent, bounces=bounces, origin=origin.of(mail, original),
                  subject=mail.subject or None, sender=mail.first("from") or None)


def parse_message(data: bytes, rules: RuleSet | None = None) -> Report:
    """What one message is and says (pure; never raises for malformed input)."""
    rules = rules or default_rules()
    try:
        mail = read_mail(data)
    except Exception as exc:  # the email package can fail on pathological input
        return Report(kind="none", error=f"unreadable message: {exc}")
    complaint = arf.decode(mail)
    if complaint is not None:
        return complaint
    report = _bounce_report(mail, rules)
    if report is not None:
        return report
    return Report(kind="none", subject=mail.subject or None, sender=mail.first("from") or None)
