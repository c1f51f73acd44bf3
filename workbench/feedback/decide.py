"""Deciding the reason of a bounce, and whether it is hard, naming the rule that decided.

The order follows Sisimai's, whose taxonomy the workbench uses:

1. a reason the MTA decoder found in the MTA's own words (``mta:``), unless it is one that
   deserves a second look (``userunknown``, ``expired``, ``systemerror``, ...);
2. the provider's documented errors (``provider:``), when the provider is known from the
   remote host, the reporting host or the recipient's domain;
3. the reason probes, in a fixed order: the enhanced status code (``status:``), the
   diagnostic's phrases (``text:``), the SMTP command and reply code;
4. the broader phrase list, the status class, the action (``delayed`` -> expired);
5. ``onhold`` when there is a diagnostic but nothing decided, else ``undefined``.
"""

from __future__ import annotations

from collections.abc import Callable

from workbench.feedback.model import Delivery
from workbench.feedback.rules import Provider, RuleSet
from workbench.feedback.smtp import BEFORE_DATA, find_reply, find_status, is_temporary

__all__ = ["RETRIED", "decide", "is_hard", "provider_for"]

#: reasons a decoder may set that the generic rules may still refine
RETRIED = frozenset({"undefined", "onhold", "systemerror", "securityerror", "expired", "networkerror",
                     "hostunknown", "userunknown"})
_ORDER_PROBES = ("mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "hasmoved", "norelaying", "authfailure",
                 "userunknown", "filtered", "requireptr", "notcompliantrfc", "badreputation", "contenterror",
                 "rejected", "hostunknown", "spamdetected", "speeding", "toomanyconn", "blocked")
_ORDER_PHRASES = ("mailboxfull", "authfailure", "badreputation", "speeding", "spamdetected", "virusdetected",
                  "policyviolation", "norelaying", "systemerror", "networkerror", "suspend", "contenterror",
                  "systemfull", "notaccept", "expired", "failedstarttls", "securityerror", "suppressed",
                  "mailererror")

Decision = tuple[str, str]


def explicit(reason: str) -> bool:
    return reason not in ("", "undefined", "onhold")


class _Probe:
    """The facts of one record the probes look at, computed once."""

    def __init__(self, d: Delivery, rules: RuleSet) -> None:
        self.d = d
        self.rules = rules
        self.text = d.diagnostic.lower()
        self.status_reason = rules.status_name(d.status)

    def has(self, reason: str) -> str | None:
        return self.rules.match(reason, self.text)

    def by_status_or_text(self, reason: str) -> str | None:
        if self.d.reason == reason:
            return f"mta:{self.d.agent}"
        if self.status_reason == reason:
            return f"status:{self.d.status}"
        hit = self.has(reason)
        return f"text:{reason} {hit}" if hit else None

    def by_text(self, reason: str) -> str | None:
        if self.d.reason == reason:
            return f"mta:{self.d.agent}"
        hit = self.has(reason)
        return f"text:{reason} {hit}" if hit else None


def _mesgtoobig(p: _Probe) -> str | None:
    if p.d.reason == "mesgtoobig":
        return f"mta:{p.d.agent}"
    if p.status_reason == "mesgtoobig":
        return f"status:{p.d.status}"
    if p.status_reason == "exceedlimit" or p.d.status == "5.2.3":
        return None
    return p.by_text("mesgtoobig")


def _suspend(p: _Probe) -> str | None:
    if p.d.reply_code == "525":
        return "reply:525"
    return p.by_text("suspend")


def _norelaying(p: _Probe) -> str | None:
    if p.d.reason == "norelaying":
        return f"mta:{p.d.agent}"
    if p.d.reason in ("securityerror", "systemerror", "undefined") or p.d.command in ("CONN", "EHLO", "HELO"):
        return None
    return p.by_text("norelaying")


def _userunknown(p: _Probe) -> str | None:
    if p.d.reason == "userunknown":
        return f"mta:{p.d.agent}"
    if p.status_reason == "suspend":
        return None
    if p.status_reason == "userunknown":
        if any(p.has(r) for r in ("norelaying", "blocked", "mailboxfull", "hasmoved", "rejected", "notaccept")):
            return None
        return f"status:{p.d.status}"
    if p.d.command == "RCPT":
        hit = p.has("userunknown")
        return f"text:userunknown {hit}" if hit else None
    return None


def _filtered(p: _Probe) -> str | None:
    if p.d.reason == "filtered":
        return f"mta:{p.d.agent}"
    if p.status_reason == "suspend":
        return None
    if p.status_reason != "filtered" and p.d.command in BEFORE_DATA:
        return None
    hit = p.has("filtered") or p.has("userunknown")
    if not hit:
        return None
    return f"status:{p.d.status} {hit}" if p.status_reason == "filtered" else f"text:filtered {hit}"


def _contenterror(p: _Probe) -> str | None:
    if p.d.reason == "contenterror":
        return f"mta:{p.d.agent}"
    if _spamdetected(p):
        return None
    return p.by_status_or_text("contenterror")


def _rejected(p: _Probe) -> str | None:
    if p.d.reason == "rejected":
        return f"mta:{p.d.agent}"
    if p.status_reason == "rejected":
        return f"status:{p.d.status}"
    temp = p.status_reason or "undefined"
    if (p.d.command == "MAIL" or (p.d.command == "DATA" and temp != "userunknown")
            or not explicit(temp) or temp in ("securityerror", "systemerror")):
        return p.by_text("rejected")
    return None


def _hostunknown(p: _Probe) -> str | None:
    if p.d.reason == "hostunknown":
        return f"mta:{p.d.agent}"
    if p.status_reason == "hostunknown":
        return None if p.has("networkerror") else f"status:{p.d.status}"
    return p.by_text("hostunknown")


def _spamdetected(p: _Probe) -> str | None:
    if not p.d.status:
        return None
    if p.d.reason == "spamdetected":
        return f"mta:{p.d.agent}"
    if p.status_reason == "spamdetected":
        return f"status:{p.d.status}"
    if p.d.command in BEFORE_DATA:
        return None
    return p.by_text("spamdetected")


_PROBES: dict[str, Callable[[_Probe], str | None]] = {
    "mailboxfull": lambda p: p.by_status_or_text("mailboxfull"),
    "mesgtoobig": _mesgtoobig,
    "exceedlimit": lambda p: p.by_status_or_text("exceedlimit"),
    "suspend": _suspend,
    "hasmoved": lambda p: p.by_text("hasmoved"),
    "norelaying": _norelaying,
    "authfailure": lambda p: p.by_status_or_text("authfailure"),
    "userunknown": _userunknown,
    "filtered": _filtered,
    "requireptr": lambda p: p.by_status_or_text("requireptr"),
    "notcompliantrfc": lambda p: p.by_text("notcompliantrfc"),
    "badreputation": lambda p: p.by_text("badreputation"),
    "contenterror": _contenterror,
    "rejected": _rejected,
    "hostunknown": _hostunknown,
    "spamdetected": _spamdetected,
    "speeding": lambda p: p.by_text("speeding"),
    "toomanyconn": lambda p: p.by_status_or_text("toomanyconn"),
    "blocked": lambda p: p.by_status_or_text("blocked"),
}


def _syntaxerror(d: Delivery) -> bool:
    return d.reply_code.isdigit() and (400 < int(d.reply_code) < 408 or 500 < int(d.reply_code) < 508)


def _anotherone(p: _Probe) -> Decision:
    d = p.d
    if explicit(d.reason):
        return d.reason, d.rule or f"mta:{d.agent}"
    reason = p.status_reason
    if reason and reason not in RETRIED and d.spec == "SMTP":
        return reason, f"status:{d.status}"
    for name in _ORDER_PHRASES:
        hit = p.has(name)
        if hit:
            return name, f"text:{name} {hit}"
    if reason:
        return reason, f"status:{d.status}"
    head = d.status[:3]
    if head in ("5.6", "4.6"):
        return "contenterror", f"status:{d.status} (class)"
    if head in ("5.7", "4.7"):
        return "securityerror", f"status:{d.status} (class)"
    if d.spec.upper().startswith("X-UNIX"):
        return "mailererror", "spec:X-UNIX"
    if _syntaxerror(d):
        return "syntaxerror", f"reply:{d.reply_code}"
    if d.action in ("delayed", "expired"):
        return "expired", f"action:{d.action}"
    if d.command in ("EHLO", "HELO"):
        return "blocked", f"command:{d.command}"
    return "", ""


def _find(d: Delivery, rules: RuleSet) -> Decision:
    if d.reason and d.reason not in RETRIED:
        return d.reason, d.rule or f"mta:{d.agent}"
    if d.status.startswith("2."):
        return "delivered", f"status:{d.status}"
    p = _Probe(d, rules)
    if d.spec in ("SMTP", ""):
        for name in _ORDER_PROBES:
            label = _PROBES[name](p)
            if label:
                if label.startswith("mta:") and d.rule:
                    label = d.rule
                return name, label
    reason, label = _anotherone(p)
    if explicit(reason):
        return reason, label
    if d.action == "delayed":
        return "expired", "action:delayed"
    hit = p.has("vacation")
    if hit:
        return "vacation", f"text:vacation {hit}"
    if d.diagnostic:
        return "onhold", "fallback:onhold (no rule matched the diagnostic)"
    return "undefined", "fallback:undefined (no diagnostic)"


def provider_for(d: Delivery, destination: str, rules: RuleSet) -> Provider | None:
    """The provider whose rules apply: by recipient domain, remote host, then reporting host."""
    if destination:
        for provider in rules.providers.values():
            if destination in provider.domains or any(h.endswith(destination) for h in provider.hosts):
                return provider
    for host in (d.remote_mta, d.reporting_mta):
        host = (host or "").lower().strip(".")
        if host:
            for provider in rules.providers.values():
                if any(host.endswith(h) for h in provider.hosts):
                    return provider
    return None


def _provider_reason(d: Delivery, provider: Provider) -> Decision:
    if not d.diagnostic:
        return "", ""
    reply, status = d.reply_code, d.status
    if "reply" in provider.require and not (reply.isdigit() and len(reply) == 3):
        return "", ""
    if "status" in provider.require and not status:
        return "", ""
    text = d.diagnostic if provider.case_sensitive else d.diagnostic.lower()
    if provider.codes_regex is not None:
        found = list(provider.codes_regex.finditer(d.diagnostic.lower()))
        if found and found[-1][1] in provider.codes and provider.codes[found[-1][1]]:
            code = found[-1][1]
            return provider.codes[code], f"provider:{provider.name} code {code}"
    classes = (status[:1], reply[:1])
    for rule in provider.rules:
        if rule.class_not and (classes[0] in rule.class_not or classes[1] in rule.class_not):
            continue
        if rule.code:
            if rule.code not in d.diagnostic or (rule.reply and reply not in rule.reply):
                continue
            return rule.reason, f"provider:{provider.name} code {rule.code}"
        if rule.text not in text:
            continue
        if rule.reply:
            if provider.loose:
                if not any(r[1:] == reply[1:] for r in rule.reply):
                    continue
            elif reply not in rule.reply:
                continue
        if rule.status:
            if provider.loose:
                if not any(s[2:] == status[2:] for s in rule.status):
                    continue
            elif status not in rule.status:
                continue
        if rule.status_range:
            prefix, low, high = rule.status_range
            detail = status.rsplit(".", 1)[-1]
            if not status.startswith(prefix) or not detail.isdigit() or not low <= int(detail) <= high:
                continue
        return rule.reason, f'provider:{provider.name} "{rule.text}"'
    return "", ""


def decide(d: Delivery, rules: RuleSet, destination: str = "") -> Decision:
    """The reason of a bounce record and the rule that decided it."""
    if d.reason and d.reason not in RETRIED:
        return d.reason, d.rule or f"mta:{d.agent}"
    provider = provider_for(d, destination, rules)
    if provider is not None:
        reason, label = _provider_reason(d, provider)
        if explicit(reason):
            return reason, label
    return _find(d, rules)


def is_hard(reason: str, status: str, diagnostic: str, rules: RuleSet) -> bool:
    """True when the reason means the address is bad.

    ``notaccept`` (the domain takes no mail) is hard when the error is permanent: a 5xx code,
    or no sign of a temporary error.
    """
    if reason in rules.hard:
        return True
    if reason != "notaccept":
        return False
    text = f"{status} {diagnostic}".strip()
    if len(text) < 4:
        return True
    code = find_status(text) or find_reply(text)
    return code.startswith("5") or not is_temporary(text)
