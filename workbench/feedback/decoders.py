"""Which decoder reads a bounce: MTA-specific decoders first (in an order the Subject
suggests), then the generic RFC 3464 decoder, then auto-replies (RFC 3834).

A decoder is ``(mail, rules) -> (records, original) | None``: ``None`` when the message is
not from its MTA; ``original`` is the returned message as text (its headers name our
message). MTA decoders live in :mod:`.mtas` (code for the MTAs with a structure of their
own) and :mod:`.textscan` (MTAs described as data in ``mtas.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from workbench.feedback import mtas, textscan
from workbench.feedback.dsn import clean_address, rfc3464, split_body, sweep
from workbench.feedback.mime import Mail
from workbench.feedback.model import Delivery
from workbench.feedback.rules import RuleSet

__all__ = ["Decoder", "autoreply", "decode", "order_for"]

Decoded = tuple[list[Delivery], str]
Decoder = Callable[[Mail, RuleSet], Decoded | None]

#: first words of the Subject -> decoders to try first
BY_SUBJECT: dict[str, tuple[str, ...]] = {
    "aws-notification": ("amazonses",),
    "delivery-failure": ("domino", "x2"),
    "delivery-notification": ("messagingserver",),
    "delivery-status": ("opensmtpd", "googleworkspace", "gmail", "googlegroups", "amazonses", "x3"),
    "failed-delivery": ("x2",),
    "failure-delivery": ("x2",),
    "failure-notice": ("qmail", "mfilter", "activehunter"),
    "loop-alert": ("fml",),
    "mail-could": ("interscanmss",),
    "mail-delivery": ("exim", "dragonfly", "gmx", "zoho", "einsundeins"),
    "mail-failure": ("exim",),
    "mail-system": ("ezweb",),
    "message-delivery": ("mailfoundry",),
    "message-frozen": ("exim",),
    "non-recapitabile": ("exchange2007",),
    "non-remis": ("exchange2007",),
    "notice": ("courier",),
    "postmaster-notify": ("sendmail",),
    "returned-mail": ("sendmail", "biglobe", "v5sendmail", "x1"),
    "there-was": ("x6",),
    "undeliverable": ("exchange2007", "exchange2003"),
    "undeliverable-mail": ("mailmarshal", "imailserver"),
    "undeliverable-message": ("notes", "verizon"),
    "undelivered-mail": ("postfix", "zoho"),
    "warning": ("sendmail", "exim"),
}
DEFAULT_ORDER = (
    "exim", "sendmail", "exchange2007", "exchange2003", "interscanmss", "kddi", "fml", "verizon", "amazonses",
    "apachejames", "x2", "postfix", "opensmtpd", "qmail", "courier", "messagingserver", "googleworkspace",
    "gmail", "gmx", "zoho", "domino", "notes", "imailserver", "mfilter", "activehunter", "mailfoundry",
    "googlegroups", "mailmarshal", "v5sendmail", "ezweb", "biglobe", "einsundeins", "dragonfly", "x1", "x3", "x6",
)


def _subject_key(subject: str) -> str:
    title = re.sub(r"[\[\]_]", " ", subject.lower())
    title = re.sub(r"\s+", " ", title).strip()
    words = title.split(" ", 2)
    first = title[: title.index(":")] if ":" in words[0] else "-".join(words[:2])
    return re.sub(r"[:,*\"]", "", first)


def order_for(subject: str) -> list[str]:
    """Decoder names in the order to try them for a message with this Subject."""
    first = BY_SUBJECT.get(_subject_key(subject), ())
    return list(dict.fromkeys([*first, *DEFAULT_ORDER]))


_AUTO_SUBJECTS = ("auto:", "auto reply", "auto-reply", "automatic reply", "autoreply", "out of office", "out of the office",
                  "away until", "absence", "abwesenheit", "réponse automatique", "vacation")


_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mail delivery", "maildelivery")
_BOUNCE_WORDS = ("undeliver", "delivery status", "delivery fail", "returned mail", "failure notice", "mail delivery")


def autoreply(mail: Mail, rules: RuleSet) -> Decoded | None:
    """An automatic reply (RFC 3834): one record for its sender, reason ``vacation``."""
    auto = mail.first("auto-submitted").lower()
    subject = mail.subject.lower()
    if auto.startswith("auto-generated") or mail.first("x-apple-unsubscribe") or mail.report_type:
        return None
    sender = mail.first("from").lower()
    if any(d in sender for d in _DAEMONS) or any(w in subject for w in _BOUNCE_WORDS):
        return None
    signals = (
        auto.startswith("auto-replied")
        or mail.first("x-autoreply").lower() in ("yes", "true")
        or mail.first("x-autorespond") != ""
        or mail.first("precedence").lower() == "auto_reply"
        or subject.startswith(_AUTO_SUBJECTS)
    )
    if not signals:
        return None
    address = clean_address(mail.first("from")) or clean_address(mail.first("return-path"))
    if not address:
        return None
    body = sweep(mail.body[:2000])
    record = Delivery(recipient=address, reason="vacation", rule="rfc3834:auto-reply", diagnostic=body,
                      feedback_type="", agent="RFC3834")
    return [record], ""


def decode(mail: Mail, rules: RuleSet) -> tuple[str, list[Delivery], str] | None:
    """``(agent, records, original)`` from the first decoder that reads ``mail``."""
    for name in order_for(mail.subject):
        decoder = mtas.DECODERS.get(name) or textscan.decoder(name, rules)
        if decoder is None:
            continue
        found = decoder(mail, rules)
        if found and found[0]:
            return name, found[0], found[1]
    records, original = rfc3464(mail.body)
    if records:
        return "rfc3464", records, original
    found = autoreply(mail, rules)
    if found:
        return "rfc3834", found[0], found[1]
    return None


def original_of(body: str) -> str:
    """The returned message (text) of a flat body, when it is attached as a MIME part."""
    return split_body(body)[1]
