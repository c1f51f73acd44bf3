"""What a send is: the campaign (or transactional stream), its sending subdomain, pool, keys.

:func:`resolve_campaign` fills a :class:`Campaign` from the store's ``campaigns`` and
``sending_domains`` tables (loaded from the infrastructure file), with explicit values
taking precedence, and refuses a domain that is not one of ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from workbench.errors import ConfigError
from workbench.store import Store

__all__ = ["Campaign", "register_campaign", "resolve_campaign"]


@dataclass(frozen=True)
class Campaign:
    """A send's identity and where it goes out.

    ``list_name`` is what an unsubscribe applies to (the stream, for marketing mail; None
    for transactional mail, which carries no List-Unsubscribe and respects only global
    suppressions).
    """

    campaign_id: str
    template: str
    stream: str
    sending_domain: str
    ip_pool: str | None = None
    list_name: str | None = None
    from_local: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    bounce_domain: str | None = None
    company: str = "workbench"
    sender_id: str = "wb"
    selectors: tuple[str, ...] = ()
    name: str | None = None
    transactional: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def from_addr(self) -> str:
        return f"{self.from_local or self.sending_domain.split('.')[0]}@{self.sending_domain}"

    @property
    def return_domain(self) -> str:
        return self.bounce_domain or self.sending_domain


def resolve_campaign(store: Store, campaign_id: str, *, template: str, stream: str | None = None,
                     sending_domain: str | None = None, ip_pool: str | None = None,
                     selectors: tuple[str, ...] = (), transactional: bool | None = None,
                     sender_id: str | None = None, from_name: str | None = None) -> Campaign:
    """The campaign ``campaign_id`` as the store knows it, with the given values overriding.

    Raises
    ------
    ConfigError
        The campaign is unknown and no stream / sending domain was given, or the sending
        domain is not in ``sending_domains``.
    """
    known = store.query("SELECT stream, sending_domain, ip_pool, name FROM campaigns WHERE campaign_id = $c",
                        {"c": campaign_id})
    row = known.row(0, named=True) if len(known) else {}
    stream = stream or row.get("stream")
    domain = sending_domain or row.get("sending_domain")
    if domain is None and stream is not None:
        found = store.query("SELECT domain FROM sending_domains WHERE stream = $s ORDER BY domain LIMIT 1", {"s": stream})
        domain = found["domain"][0] if len(found) else None
    domains = store.query("SELECT * FROM sending_domains ORDER BY domain")
    if domain is None or stream is None:
        raise ConfigError(f"campaign {campaign_id!r} is not in the store: give its stream and sending domain "
                          f"(--stream, --domain; ours: {', '.join(domains['domain'].to_list()) or 'none loaded'})")
    match = domains.filter(domains["domain"] == domain.lower())
    if match.is_empty():
        raise ConfigError(f"{domain} is not one of our sending domains ({', '.join(domains['domain'].to_list()) or 'none loaded'}): "
                          "load the infrastructure file that declares it (`workbench load infrastructure.yaml`)")
    info = match.row(0, named=True)
    parent = info.get("parent_domain") or domain
    chosen = selectors or tuple((info.get("dkim_selectors") or [])[:1])
    if not chosen:
        raise ConfigError(f"{domain} has no DKIM selector in sending_domains: pass one (--selector)")
    is_tx = transactional if transactional is not None else stream == "transactional"
    return Campaign(
        campaign_id=campaign_id, template=template, stream=stream, sending_domain=domain.lower(),
        ip_pool=ip_pool or row.get("ip_pool") or info.get("ip_pool"), list_name=None if is_tx else stream,
        from_name=from_name, bounce_domain=info.get("return_path_domain"), company=parent.split(".")[0],
        sender_id=sender_id or "wb", selectors=tuple(chosen), name=row.get("name"), transactional=is_tx,
    )


def register_campaign(store: Store, campaign: Campaign, subject: str | None, at: datetime) -> None:
    """Add the campaign to ``campaigns`` when it is not there (KPIs and unsubscribe scopes read it).

    Raises
    ------
    StoreError
        The store cannot be written.
    """
    store.execute(
        "INSERT INTO campaigns (campaign_id, name, stream, sending_domain, ip_pool, subject, scheduled_at) "
        "VALUES ($c, $n, $s, $d, $p, $subj, $at) ON CONFLICT DO NOTHING",
        {"c": campaign.campaign_id, "n": campaign.name or campaign.campaign_id, "s": campaign.stream,
         "d": campaign.sending_domain, "p": campaign.ip_pool, "subj": subject, "at": at},
    )
