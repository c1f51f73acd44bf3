"""Campaign sends in three calls: :func:`prepare` (resolve, check, plan), :func:`dry_run`,
:func:`send`.

>>> prepared = prepare(store, "news-20261127", segment="newsletter", template="newsletter")  # doctest: +SKIP
>>> prepared.plan.by_provider()                                                           # doctest: +SKIP
>>> result = send(store, prepared, SendConfig.load(store.settings))                       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.errors import ConfigError
from workbench.sending import ledger
from workbench.sending.audience import audience
from workbench.sending.campaign import Campaign, register_campaign, resolve_campaign
from workbench.sending.config import SendConfig
from workbench.sending.engine import RunResult, send_campaign, utcnow
from workbench.sending.ledger import Plan, Record
from workbench.sending.shaping import Shaping
from workbench.sending.templates import (
    Template,
    TemplateCheck,
    check,
    compile_template,
    load_template,
    preview,
)
from workbench.sending.transport import Transport
from workbench.store import Store

__all__ = ["Prepared", "dry_run", "prepare", "send", "throttle_estimate"]


@dataclass
class Prepared:
    """A campaign ready to send: who, what, and the plan (not written yet)."""

    campaign: Campaign
    template: Template
    contacts: pl.DataFrame
    check: TemplateCheck
    plan: Plan

    def preview(self, index: int = 0) -> Any:
        """What the ``index``-th contact would receive (subject, HTML, text)."""
        row = self.contacts.row(index, named=True)
        return preview(self.template, {**row, "campaign_id": self.campaign.campaign_id})


def prepare(store: Store, campaign_id: str, *, segment: str | pl.DataFrame | Sequence[Mapping[str, Any]],
            template: str | Template, contacts: str | Path | None = None, limit: int | None = None,
            stream: str | None = None, sending_domain: str | None = None, ip_pool: str | None = None,
            selectors: tuple[str, ...] = (), sender_id: str | None = None) -> Prepared:
    """Resolve the campaign and its audience, check the template against it, and plan (in
    memory: :func:`send` writes the plan).

    Raises
    ------
    ConfigError
        Unknown campaign / domain / template / segment, or a template variable that nothing
        provides.
    """
    tpl = template if isinstance(template, Template) else load_template(template, root=store.settings.root)
    campaign = resolve_campaign(store, campaign_id, template=tpl.name, stream=stream, sending_domain=sending_domain,
                                ip_pool=ip_pool, selectors=selectors, sender_id=sender_id)
    people = audience(store, segment, contacts=contacts, limit=limit)
    compiled = compile_template(tpl)
    checked = check(compiled, people)
    if checked.missing:
        raise ConfigError(f"template {tpl.name!r} uses {', '.join(checked.missing)}, which no contact attribute, default "
                          "or sender variable provides: add them to the template's defaults or the audience")
    return Prepared(campaign, tpl, people, checked, ledger.plan_frame(store, campaign, people))


def dry_run(store: Store, campaign_id: str, **kwargs: Any) -> Prepared:
    """:func:`prepare` (nothing is written, nothing is sent)."""
    return prepare(store, campaign_id, **kwargs)


def throttle_estimate(plan: Plan, shaping: Shaping) -> pl.DataFrame:
    """Per provider: messages planned, the shaping rule, and the minutes the rate alone takes."""
    rows = []
    for provider, planned in plan.by_provider().select("mailbox_provider", "planned").iter_rows():
        rule = shaping.rule(provider)
        rows.append({"mailbox_provider": provider, "planned": planned, "connections": rule.connections,
                     "per_connection": rule.per_connection, "per_minute": rule.per_minute,
                     "minutes_at_rate": round(planned / rule.per_minute, 2)})
    return pl.DataFrame(rows, schema={"mailbox_provider": pl.Utf8, "planned": pl.Int64, "connections": pl.Int64,
                                      "per_connection": pl.Int64, "per_minute": pl.Int64, "minutes_at_rate": pl.Float64})


def send(store: Store, prepared: Prepared, config: SendConfig, *, transport: Transport | None = None,
         record: Record | None = None, progress: Any = None) -> RunResult:
    """Write the plan (contacts not planned before) and send everything planned.

    Raises
    ------
    ConfigError
        A contact lacks a variable without default (``prepared.check.incomplete``), or a
        DKIM key is missing.
    SendError
        Another sender runs this campaign.
    StoreError
        The store cannot be written.
    """
    if prepared.check.incomplete:
        detail = ", ".join(f"{k} ({v} contacts)" for k, v in prepared.check.incomplete.items())
        raise ConfigError(f"contacts without a value for {detail} and no default: add defaults to the template")
    now = utcnow()
    register_campaign(store, prepared.campaign, compile_template(prepared.template).template.subject, now)
    ledger.plan(store, prepared.campaign, prepared.contacts, now)
    return send_campaign(store, prepared.campaign, prepared.template, config, transport=transport, record=record,
                         progress=progress)
