"""Records of the feedback parsers: a delivery (one recipient of a bounce), a complaint, a
report (what one message turned out to be).

:class:`Delivery` is the working record the decoders fill in (mutable while a message is
decoded); :class:`Bounce` and :class:`Complaint` are the frozen results handed to callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Bounce", "Complaint", "Delivery", "Origin", "Report"]


@dataclass
class Delivery:
    """What a decoder found about one recipient (working state, then frozen into a Bounce).

    ``spec`` is the type of the diagnostic (``SMTP``, ``X-UNIX``, ...), ``command`` the SMTP
    command the remote server answered, ``reason``/``rule`` a reason a decoder already knows
    (an MTA's own category) and the rule that set it.
    """

    recipient: str = ""
    alias: str = ""
    action: str = ""
    status: str = ""
    reply_code: str = ""
    diagnostic: str = ""
    spec: str = ""
    command: str = ""
    remote_mta: str = ""
    reporting_mta: str = ""
    date: str = ""
    reason: str = ""
    rule: str = ""
    feedback_type: str = ""
    agent: str = ""

    def set_if_empty(self, name: str, value: str) -> None:
        """Set a field only when it holds nothing yet."""
        if value and not getattr(self, name):
            setattr(self, name, value)


@dataclass(frozen=True)
class Origin:
    """What identifies the message that bounced or drew a complaint (from its returned headers,
    our trace headers, the VERP return path)."""

    message_id: str | None = None
    campaign_id: str | None = None
    contact_id: str | None = None
    stream: str | None = None
    sender: str | None = None
    sending_ip: str | None = None
    subject: str | None = None
    sent_at: datetime | None = None
    feedback_id: str | None = None
    trace: str | None = None
    trace_valid: bool | None = None
    list_id: str | None = None


@dataclass(frozen=True)
class Bounce:
    """One recipient of a bounce (or auto-reply, or delivery report), classified.

    Attributes
    ----------
    recipient:
        The recipient address, lower-cased.
    reason:
        A reason in Sisimai's taxonomy (``userunknown``, ``mailboxfull``, ...).
    hard:
        True when the address itself is bad (the reason says so).
    rule:
        Which rule decided the reason (``status:5.1.1``, ``text:userunknown "user unknown"``,
        ``provider:google ...``, ``mta:exim ...``, ``fallback:onhold``).
    """

    recipient: str
    reason: str
    hard: bool
    rule: str
    action: str | None
    status: str | None
    reply_code: int | None
    diagnostic: str | None
    command: str | None
    remote_mta: str | None
    reporting_mta: str | None
    agent: str
    alias: str | None = None
    feedback_type: str | None = None


@dataclass(frozen=True)
class Complaint:
    """A complaint (ARF abuse report, Microsoft JMRP, Yahoo CFL) or an unsubscribe request
    (ARF opt-out, Apple's unsubscribe notification) about one recipient of our mail."""

    feedback_type: str
    recipient: str | None
    recipient_redacted: bool
    provider: str | None
    user_agent: str | None
    source_ip: str | None
    arrival_date: datetime | None
    reported_domain: str | None
    reporting_mta: str | None
    original_mail_from: str | None
    auth_results: str | None
    version: str | None
    format: str  # arf | jmrp | apple-unsubscribe | ...
    rule: str


@dataclass(frozen=True)
class Report:
    """What one message is: a bounce (``bounces``), a complaint (``complaints``), an
    auto-reply (``bounces`` with reason ``vacation``), or none of these (``kind == "none"``)."""

    kind: str  # bounce | complaint | autoreply | delivery | none
    agent: str | None = None
    bounces: tuple[Bounce, ...] = ()
    complaints: tuple[Complaint, ...] = ()
    origin: Origin = field(default_factory=Origin)
    subject: str | None = None
    sender: str | None = None
    date: datetime | None = None
    error: str | None = None
