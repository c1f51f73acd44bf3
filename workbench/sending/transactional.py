"""Transactional mail, one message at a time, through the same path as campaigns.

:func:`send_one` renders a template for one recipient, signs it with the stream's
subdomain key and sends it at once: ledger row (``tx/<idempotency key>``: the same key
never sends twice), global suppressions only (an unsubscribe from the newsletter does not
stop a password reset; a complaint or hard bounce does), events like any send. A 4xx
leaves the row planned with its back-off: ``workbench send <campaign>`` retries it.

>>> send_one(store, template="password-reset", to="ana@example.com",
...          variables={"reset_url": "https://www.example.com/r/abc"}, config=config)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from workbench.audience.suppression import is_suppressed
from workbench.auth.dkim_keys import DkimKey
from workbench.errors import ConfigError
from workbench.sending.build import BuildSpec, MessageBuilder, Planned
from workbench.sending.campaign import Campaign, register_campaign, resolve_campaign
from workbench.sending.compose import address, message_id_for
from workbench.sending.config import SendConfig
from workbench.sending.engine import campaign_keys, run_sync
from workbench.sending.lanes import Queued, outcome_of
from workbench.sending.ledger import Outcome, settle
from workbench.sending.templates import Template, check, compile_template, load_template
from workbench.sending.transport import Reply, SmtpTransport, Transport
from workbench.store import Store

__all__ = ["TransactionalResult", "send_one"]


@dataclass(frozen=True)
class TransactionalResult:
    """What happened: ``status`` sent | failed | planned (deferred) | suppressed | uncertain |
    duplicate (the idempotency key was used before; nothing sent)."""

    message_id: str
    status: str
    smtp_code: int | None = None
    detail: str | None = None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def send_one(store: Store, *, template: str | Template, to: str, variables: Mapping[str, Any] | None = None,
             config: SendConfig, stream: str = "transactional", sending_domain: str | None = None,
             contact_id: str | None = None, idempotency_key: str | None = None, campaign_id: str | None = None,
             keys: list[DkimKey] | None = None, transport: Transport | None = None) -> TransactionalResult:
    """Send one message now (see the module docstring).

    Raises
    ------
    ConfigError
        Unknown template or domain, a missing variable, a missing DKIM key.
    SendError
        ``to`` is not a plain address.
    StoreError
        The store cannot be written.
    """
    recipient = address(to, "To").lower()
    tpl = template if isinstance(template, Template) else load_template(template, root=store.settings.root)
    now = _now()
    campaign_id = campaign_id or f"tx-{tpl.name}-{now:%Y%m%d}"
    campaign = resolve_campaign(store, campaign_id, template=tpl.name, stream=stream, sending_domain=sending_domain,
                                transactional=True)
    values = {k: v for k, v in (variables or {}).items() if v is not None}
    contact = contact_id or "A" + hashlib.sha256(recipient.encode()).hexdigest()[:12]
    compiled = compile_template(tpl)
    missing = check(compiled, pl.DataFrame([{**values, "contact_id": contact, "email": recipient}])).missing
    if missing:
        raise ConfigError(f"template {tpl.name!r} needs {', '.join(missing)}: pass them in variables")
    key = f"tx/{idempotency_key or uuid.uuid4().hex}"
    message_id = message_id_for(key, campaign.sending_domain)
    existing = store.query("SELECT status FROM send_ledger WHERE ledger_key = $k", {"k": key})
    if len(existing):
        return TransactionalResult(message_id, "duplicate", detail=f"already {existing['status'][0]} under this key")
    register_campaign(store, campaign, compiled.template.subject, now)
    blocked = is_suppressed(store, [recipient], list=None, contact_ids=[contact])
    status = "suppressed" if blocked["suppressed"][0] else "sending"
    detail = f"suppressed: {blocked['reason'][0]}" if status == "suppressed" else None
    ip = _ip_for(store, campaign)
    store.execute(
        "INSERT INTO send_ledger (ledger_key, campaign_id, contact_id, recipient, message_id, status, stream, sending_domain, "
        "ip_pool, mailbox_provider, sending_ip, attributes, planned_at, attempts, claimed_at, detail, finished_at) "
        "SELECT $k, $c, $ct, $r, $m, $s, $st, $d, $p, coalesce((SELECT provider FROM provider_domains WHERE domain = $rd), "
        "'other'), $ip, $a, $now, $att, $now, $detail, CASE WHEN $s = 'suppressed' THEN $now END",
        {"k": key, "c": campaign.campaign_id, "ct": contact, "r": recipient, "m": message_id, "s": status,
         "st": campaign.stream, "d": campaign.sending_domain, "p": campaign.ip_pool, "rd": recipient.rpartition("@")[2],
         "ip": ip, "a": json.dumps(values, default=str), "now": now, "att": 0 if status == "suppressed" else 1,
         "detail": detail})
    store.release()
    if status == "suppressed":
        return TransactionalResult(message_id, "suppressed", detail=detail)
    keys = keys if keys is not None else campaign_keys(campaign, config.keys_dir)
    builder = MessageBuilder(BuildSpec.of(campaign, tpl, keys, tracking_url=None, trace_key=config.trace_key))
    outgoing = builder.build(Planned(message_id, contact, recipient, values), datetime.now(UTC))
    item = Queued(key, outgoing, 1, config)
    relay_transport = transport or SmtpTransport(config.relay_for(campaign.ip_pool))
    if outgoing.error:
        outcome = Outcome(key, message_id, "failed", detail=f"not sent: {outgoing.error}", event="dropped",
                          event_fields={"diagnostic": outgoing.error[:500]})
    else:
        source = config.bind.get(ip or "")
        reply = run_sync(lambda: _deliver(relay_transport, source, outgoing.sender, outgoing.recipient, outgoing.data))
        outcome = outcome_of(reply, item, relay_transport.describe())
    settle(store, [outcome], _now(), campaign)
    store.release()
    return TransactionalResult(message_id, outcome.status, outcome.smtp_code, outcome.detail)


def _ip_for(store: Store, campaign: Campaign) -> str | None:
    """The pool's first warm IP (transactional mail does not go out on an IP in warm-up)."""
    ips = store.query("SELECT ip FROM ips WHERE pool = $p ORDER BY warmup_start NULLS FIRST, ip LIMIT 1",
                      {"p": campaign.ip_pool or ""})
    return str(ips["ip"][0]) if len(ips) else None


async def _deliver(transport: Transport, source: str | None, sender: str, recipient: str, data: bytes) -> Reply:
    try:
        connection = await transport.connect(source)
    except (ConnectionError, OSError) as exc:
        return Reply(0, str(exc), "connect")
    try:
        return await connection.send(sender, recipient, data)
    finally:
        await connection.close()
