"""``workbench send``, ``send-one``, ``ledger``, ``template`` and ``sink``.

Exit codes: 0 success (every planned message went out or was suppressed); 1 an error the
message explains (unknown campaign, template, key, relay); 3 a send that left messages
failed, deferred (to retry with the same command) or uncertain (``--resolve-uncertain``).
"""

from __future__ import annotations

import sys
from contextlib import ExitStack, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from workbench.cli import (
    _emit,
    _parse_pairs,
    _store,
    db_option,
    err,
    handle_errors,
    json_option,
    out,
)

__all__ = ["COMMANDS"]


def _config(ctx: click.Context, config: Path | None, relay: str | None, bind: tuple[str, ...], tracking_url: str | None,
            workers: int | None) -> Any:
    from workbench.sending import SendConfig, relay_from

    return SendConfig.load(ctx.obj["settings"], config, relay=relay_from(relay) if relay else None,
                           bind=_parse_pairs(bind, "--bind") or None, tracking_url=tracking_url, workers=workers)


def _sink(stack: ExitStack, settings: Any) -> Any:
    from workbench.sending import Sink

    sink = Sink(settings.data_dir / "sink" / "Maildir").start()
    stack.callback(sink.stop)
    err.print(f"embedded sink on 127.0.0.1:{sink.port} storing into {sink.maildir}")
    return sink


_OPTIONS = [
    click.option("--relay", default=None, metavar="HOST:PORT", help="The relay (default: sending.yaml, else 127.0.0.1:2525)."),
    click.option("--sink", "use_sink", is_flag=True, help="Start the embedded sink (data/sink/Maildir) and send to it."),
    click.option("--bind", multiple=True, metavar="IP=LOCAL", help="Connect from LOCAL for our IP (e.g. 192.0.2.10=127.0.0.10)."),
    click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                 help="A sending.yaml (relay, pools, bind, shaping, warm-up, tracking URL)."),
    click.option("--tracking-url", default=None, help="Base URL of `workbench track serve` (open, click, unsubscribe)."),
]


def _with_options(func: Any) -> Any:
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


@click.command("send")
@click.argument("campaign")
@click.option("--segment", required=True, help="A segment name, `all`, or a list (`newsletter`, `list:newsletter`).")
@click.option("--template", "template_name", required=True, help="A template folder name (`workbench template list`).")
@click.option("--dry-run", is_flag=True, help="Show the plan (per provider, suppressed, throttles); send nothing.")
@click.option("--limit", type=int, default=None, help="At most this many contacts.")
@click.option("--contacts", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Contacts file (CSV / Parquet) when the store holds no audience.")
@click.option("--stream", default=None, help="The stream, for a campaign not in the store (e.g. newsletter).")
@click.option("--domain", default=None, help="The sending subdomain, for a campaign not in the store.")
@click.option("--pool", default=None, help="The IP pool (default: the campaign's, else the domain's).")
@click.option("--selector", "selectors", multiple=True, help="DKIM selector(s) (several: dual signing).")
@click.option("--workers", type=int, default=None, help="Processes that render and sign (default 0: in the sender).")
@click.option("--record", default=None, help="Relay record to reconcile with after a crash (Maildir or Postfix log).")
@click.option("--resolve-uncertain", type=click.Choice(["resend", "sent"]), default=None,
              help="Decide the messages left uncertain by a crash: send them again, or count them sent.")
@_with_options
@db_option
@json_option
@click.pass_context
@handle_errors
def send(ctx: click.Context, campaign: str, segment: str, template_name: str, dry_run: bool, limit: int | None,
         contacts: Path | None, stream: str | None, domain: str | None, pool: str | None, selectors: tuple[str, ...],
         workers: int | None, record: str | None, resolve_uncertain: str | None, relay: str | None, use_sink: bool,
         bind: tuple[str, ...], config: Path | None, tracking_url: str | None, db: Path | None, as_json: bool) -> None:
    """Plan CAMPAIGN for a segment and send it: signed, over its pool, shaped per provider.

    Run it again after a crash (or to retry deferred messages): what was sent is not sent
    again; what was in flight is reconciled with the relay's record.
    """
    from workbench.sending import prepare, record_for, throttle_estimate
    from workbench.sending import send as run_send

    store = _store(ctx, db)
    prepared = prepare(store, campaign, segment=segment, template=template_name, contacts=contacts, limit=limit,
                       stream=stream, sending_domain=domain, ip_pool=pool, selectors=selectors)
    cfg = _config(ctx, config, relay, bind, tracking_url, workers)
    if dry_run:
        summary = {**prepared.plan.summary(), "campaign": campaign, "sending_domain": prepared.campaign.sending_domain,
                   "ip_pool": prepared.campaign.ip_pool, "template_warnings": list(prepared.check.warnings),
                   "incomplete": dict(prepared.check.incomplete),
                   "throttles": throttle_estimate(prepared.plan, cfg.shaping).to_dicts()}
        if as_json:
            _emit(summary)
        else:
            out.print(f"[bold]{campaign}[/] from {prepared.campaign.from_addr} over pool {prepared.campaign.ip_pool}: "
                      f"{summary['planned']:,} to send, {summary['suppressed']:,} suppressed, "
                      f"{summary['already_planned']:,} planned before (dry run: nothing sent)")
            out.print(throttle_estimate(prepared.plan, cfg.shaping))
            for warning in prepared.check.warnings:
                err.print(f"[yellow]warning:[/] {warning}")
        return
    if resolve_uncertain:
        _resolve(store, campaign, resolve_uncertain)
    with ExitStack() as stack:
        if use_sink:
            sink = _sink(stack, ctx.obj["settings"])
            cfg = cfg.with_(relay=replace(cfg.relay, host="127.0.0.1", port=sink.port, starttls=False))
            record = record or f"maildir:{sink.maildir}"
        bar = stack.enter_context(Progress(TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                           console=err, transient=True, disable=as_json))
        task = bar.add_task("send", total=prepared.plan.summary()["planned"] or None)
        result = run_send(store, prepared, cfg, record=record_for(record) if record else None,
                          progress=lambda c: bar.update(task, completed=c["sent"] + c["failed"] + c["suppressed"]))
    left = int(store.scalar("SELECT count(*) FROM send_ledger WHERE campaign_id = $c AND status IN "
                            "('planned', 'failed', 'uncertain')", {"c": campaign}) or 0)
    if as_json:
        _emit({**result.as_dict(), "not_sent": left})
    else:
        c = result.counts
        out.print(f"{campaign}: {c['sent']:,} sent, {c['failed']:,} failed, {c['deferred']:,} deferred, "
                  f"{c['suppressed']:,} suppressed at send time, {c['uncertain']:,} uncertain, {c['held']:,} held by "
                  f"warm-up caps; {result.messages_per_second:,.0f} messages/s over {result.relay}")
    if left:
        sys.exit(3)


def _resolve(store: Any, campaign: str, how: str) -> None:
    status = "planned" if how == "resend" else "sent"
    store.execute("UPDATE send_ledger SET status = $s, detail = 'uncertain, resolved by hand: ' || $h, "
                  "next_attempt_at = NULL WHERE campaign_id = $c AND status = 'uncertain'",
                  {"s": status, "h": how, "c": campaign})
    store.release(force=True)


@click.command("send-one")
@click.option("--template", "template_name", required=True, help="A template folder name (e.g. password-reset).")
@click.option("--to", "to", required=True, help="The recipient address.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="A template variable; repeatable.")
@click.option("--stream", default="transactional", show_default=True)
@click.option("--domain", default=None, help="The sending subdomain (default: the stream's).")
@click.option("--key", "idempotency_key", default=None, help="Idempotency key: the same key never sends twice.")
@_with_options
@db_option
@json_option
@click.pass_context
@handle_errors
def send_one_command(ctx: click.Context, template_name: str, to: str, variables: tuple[str, ...], stream: str,
                     domain: str | None, idempotency_key: str | None, relay: str | None, use_sink: bool,
                     bind: tuple[str, ...], config: Path | None, tracking_url: str | None, db: Path | None,
                     as_json: bool) -> None:
    """Send one transactional message now (account creation, password reset, order)."""
    from workbench.sending import send_one

    store = _store(ctx, db)
    cfg = _config(ctx, config, relay, bind, None, None)
    with ExitStack() as stack:
        if use_sink:
            sink = _sink(stack, ctx.obj["settings"])
            cfg = cfg.with_(relay=replace(cfg.relay, host="127.0.0.1", port=sink.port, starttls=False))
        result = send_one(store, template=template_name, to=to, variables=_parse_pairs(variables, "--var"), config=cfg,
                          stream=stream, sending_domain=domain, idempotency_key=idempotency_key)
    if as_json:
        _emit(result.__dict__)
    else:
        out.print(f"{result.status}: {result.message_id} {result.smtp_code or ''} {result.detail or ''}".rstrip())
    if result.status not in ("sent", "duplicate", "suppressed"):
        sys.exit(3)


@click.command("ledger")
@click.argument("campaign")
@db_option
@json_option
@click.pass_context
@handle_errors
def ledger_command(ctx: click.Context, campaign: str, db: Path | None, as_json: bool) -> None:
    """Where a campaign's messages are: per provider and status (planned, sending, sent,
    failed, suppressed, uncertain)."""
    from workbench.sending import progress

    frame = progress(_store(ctx, db), campaign)
    _emit(frame.to_dicts()) if as_json else out.print(frame)


@click.group("template")
def template() -> None:
    """Mail templates: list, check against a segment, preview for a contact."""


@template.command("list")
@click.pass_context
def template_list(ctx: click.Context) -> None:
    """Templates found in templates/ and shipped with the package."""
    from workbench.sending import template_names

    for name in template_names(ctx.obj["settings"].root):
        click.echo(name)


@template.command("preview")
@click.argument("name")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="A variable (a contact attribute).")
@click.option("--part", type=click.Choice(["subject", "html", "text"]), default="text", show_default=True)
@click.pass_context
@handle_errors
def template_preview(ctx: click.Context, name: str, variables: tuple[str, ...], part: str) -> None:
    """Render NAME for a contact given by --var values (missing ones take the defaults)."""
    from workbench.sending import load_template, preview

    rendered = preview(load_template(name, root=ctx.obj["settings"].root),
                       {"email": "someone@example.com", "contact_id": "C0000000", **_parse_pairs(variables, "--var")})
    click.echo(getattr(rendered, part))


@click.command("sink")
@click.option("--port", type=int, default=2525, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--maildir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to store (default data/sink/Maildir).")
@click.pass_context
@handle_errors
def sink_command(ctx: click.Context, port: int, host: str, maildir: Path | None) -> None:
    """Run the embedded SMTP sink in the foreground (Ctrl-C stops it)."""
    import asyncio

    from workbench.sending import Sink

    target = maildir or ctx.obj["settings"].data_dir / "sink" / "Maildir"
    server = Sink(target, host, port)
    err.print(f"sink listening on {host}:{port}, storing into {target}")
    with suppress(KeyboardInterrupt):
        asyncio.run(server.serve())


#: registered by workbench.cli
COMMANDS: list[click.Command] = [send, send_one_command, ledger_command, template, sink_command]
