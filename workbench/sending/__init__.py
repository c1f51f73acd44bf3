"""Campaign and transactional sends: template -> compose -> DKIM -> SMTP, with a ledger.

The public surface (what notebooks and the CLI use)::

    from workbench.sending import SendConfig, prepare, send, send_one, Sink
    prepared = prepare(store, "news-20261127", segment="newsletter", template="newsletter")
    prepared.plan.by_provider()                       # the plan: counts per provider, suppressed
    result = send(store, prepared, SendConfig.load(store.settings))

Modules: :mod:`.templates` (sandboxed Jinja, text part, CSS inlined, checks), :mod:`.compose`
(MIME, no header injection), :mod:`.signing` (DKIM with dkimpy's canonicalisation, OpenSSL
signatures), :mod:`.ledger` (exactly once), :mod:`.engine` and :mod:`.lanes` (shaped
sending), :mod:`.transport` (aiosmtplib + pipelining), :mod:`.warmup`, :mod:`.shaping`,
:mod:`.sink` (the embedded Maildir sink), :mod:`.transactional`.
"""

from workbench.sending.api import Prepared, dry_run, prepare, send, throttle_estimate
from workbench.sending.audience import audience
from workbench.sending.campaign import Campaign, resolve_campaign
from workbench.sending.config import SendConfig, relay_from
from workbench.sending.engine import RunResult, send_campaign
from workbench.sending.ledger import Plan, progress
from workbench.sending.notebook import campaign_kpis, ledger_chart, plan_chart, send_with_progress
from workbench.sending.records import MaildirRecord, PostfixLogRecord, record_for
from workbench.sending.shaping import ProviderRule, Shaping
from workbench.sending.sink import Sink
from workbench.sending.templates import (
    check,
    compile_template,
    load_template,
    preview,
    template_names,
)
from workbench.sending.transactional import TransactionalResult, send_one
from workbench.sending.transport import RecordingTransport, Relay, Reply, SmtpTransport
from workbench.sending.warmup import WarmupSchedule

__all__ = [
    "Campaign",
    "MaildirRecord",
    "Plan",
    "PostfixLogRecord",
    "Prepared",
    "ProviderRule",
    "RecordingTransport",
    "Relay",
    "Reply",
    "RunResult",
    "SendConfig",
    "Shaping",
    "Sink",
    "SmtpTransport",
    "TransactionalResult",
    "WarmupSchedule",
    "audience",
    "campaign_kpis",
    "check",
    "compile_template",
    "dry_run",
    "ledger_chart",
    "load_template",
    "plan_chart",
    "prepare",
    "preview",
    "progress",
    "record_for",
    "relay_from",
    "resolve_campaign",
    "send",
    "send_campaign",
    "send_one",
    "send_with_progress",
    "template_names",
    "throttle_estimate",
]
