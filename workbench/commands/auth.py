"""``workbench audit``, ``workbench dns records`` and ``workbench dkim ...``.

Exit codes of ``workbench audit``: 0 no error-level finding; 1 an error-level finding (the
table says which and what to publish), or the audit could not run (the message says why).
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from workbench.cli import _emit, _store, console, db_option, handle_errors, json_option
from workbench.config import Settings

out = console()
err = console(stderr=True)
STYLE = {"ok": "green", "info": "cyan", "warning": "yellow", "error": "bold red"}


def _keys_dir(ctx: click.Context, keys: Path | None) -> Path:
    settings: Settings = ctx.obj["settings"]
    return keys or Path(os.environ.get("WORKBENCH_KEYS") or settings.data_dir / "keys")


def _setup(ctx: click.Context, offline: bool, zones: tuple[Path, ...], nameservers: tuple[str, ...], ca_bundle: Path | None,
           https_port: int) -> Any:
    from workbench.auth.run import AuditSetup

    settings: Settings = ctx.obj["settings"]
    if offline or os.environ.get("WORKBENCH_RESOLVER") == "offline":
        zones = zones or (settings.data_dir / "dns",)
    return AuditSetup(tuple(str(z) for z in zones), tuple(nameservers), str(ca_bundle) if ca_bundle else None, https_port)


def resolver_options(func: Any) -> Any:
    """``--offline``, ``--zone``, ``--nameserver``, ``--ca-bundle``, ``--https-port``."""
    for option in reversed([
        click.option("--offline", is_flag=True, help="Answer from data/dns/*.zone (the demo's world) instead of live DNS."),
        click.option("--zone", "zones", multiple=True, type=click.Path(exists=True, path_type=Path),
                     help="Answer from this zone file or folder (implies offline; repeatable)."),
        click.option("--nameserver", "nameservers", multiple=True, metavar="HOST[:PORT]",
                     help="Ask this nameserver (repeatable; default: the system's resolvers)."),
        click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="Extra CAs (PEM) for HTTPS fetches of MTA-STS policies and BIMI logos."),
        click.option("--https-port", type=int, default=443, show_default=True, help="Port of HTTPS fetches."),
    ]):
        func = option(func)
    return func


@click.command("audit")
@click.argument("domains", nargs=-1)
@resolver_options
@click.option("--keys", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="DKIM keys folder (default: $WORKBENCH_KEYS or data/keys).")
@click.option("--min-severity", type=click.Choice(["ok", "info", "warning", "error"]), default="info", show_default=True,
              help="Findings shown in the table.")
@click.option("--no-save", is_flag=True, help="Do not store the run (it is stored with history by default).")
@db_option
@json_option
@click.pass_context
@handle_errors
def audit_command(ctx: click.Context, domains: tuple[str, ...], offline: bool, zones: tuple[Path, ...], nameservers: tuple[str, ...],
                  ca_bundle: Path | None, https_port: int, keys: Path | None, min_severity: str, no_save: bool, db: Path | None,
                  as_json: bool) -> None:
    """Audit SPF, DKIM, DMARC, reverse DNS, MX, MTA-STS, TLS-RPT and BIMI of every sending
    domain (or DOMAIN...) in the store, and store the run. Exit code 1 on an error-level finding."""
    from workbench.auth.findings import SEVERITIES
    from workbench.auth.run import audit_store_domains

    setup = _setup(ctx, offline, zones, nameservers, ca_bundle, https_port)
    store = _store(ctx, db)
    with Progress(TextColumn("[bold]auditing[/]"), BarColumn(), TextColumn("{task.completed} domains"), console=err,
                  transient=True) as bar:
        task = bar.add_task("audit", total=None)
        run = audit_store_domains(store, setup, domains=list(domains) or None, keys_dir=_keys_dir(ctx, keys),
                                  save=not no_save, progress=lambda n: bar.advance(task, n))
    if as_json:
        _emit(run.as_dict())
    else:
        checks = list(run.audits[0].status()) if run.audits else []
        grid = Table("domain", *checks, title=f"audit {run.audit_id or '(not saved)'} — {run.resolver}")
        for a in run.audits:
            status = a.status()
            grid.add_row(a.domain, *(f"[{STYLE[status[c]]}]{status[c]}[/]" for c in checks))
        out.print(grid)
        rank = SEVERITIES.index(min_severity)
        rows = sorted((f for a in run.audits for f in a.findings if SEVERITIES.index(f.severity) >= rank and f.severity != "ok"),
                      key=lambda f: (-SEVERITIES.index(f.severity), f.domain, f.code))
        for f in rows:
            out.print(f"[{STYLE[f.severity]}]{f.severity:<7}[/] {f.domain}  [bold]{f.code}[/]  {f.detail}", highlight=False,
                      soft_wrap=True)
            if f.fix:
                out.print(f"        fix: {f.fix}", highlight=False, soft_wrap=True)
        out.print(f"{len(run.audits)} domains, {run.errors} errors, in {run.seconds:.2f} s")
    sys.exit(1 if run.errors else 0)


@click.group("dns")
def dns_group() -> None:
    """DNS records of the sending domains."""


@dns_group.command("records")
@click.argument("domain")
@click.option("--include", "includes", multiple=True, metavar="DOMAIN", help="An ESP or relay's SPF include (repeatable).")
@click.option("--mx", default=None, help="The MX host for bounces (default: mx1.<organizational domain>).")
@click.option("--rua", default=None, help="The DMARC aggregate report address (default: dmarc-reports@<org domain>).")
@click.option("--selector", "selectors", multiple=True, help="DKIM selectors (default: the domain's, from the store).")
@click.option("--keys", type=click.Path(file_okay=False, path_type=Path), default=None, help="DKIM keys folder.")
@db_option
@click.pass_context
@handle_errors
def records_command(ctx: click.Context, domain: str, includes: tuple[str, ...], mx: str | None, rua: str | None,
                    selectors: tuple[str, ...], keys: Path | None, db: Path | None) -> None:
    """Print the records a sending (sub)domain needs, as a zone-file snippet."""
    from workbench.auth.audit import DomainSpec
    from workbench.auth.dkim_keys import load_private_key
    from workbench.auth.records import records_for
    from workbench.auth.store import domain_specs
    from workbench.errors import WorkbenchError

    keys_dir = _keys_dir(ctx, keys)
    try:
        spec = domain_specs(_store(ctx, db), [domain], keys_dir)[0]
    except WorkbenchError:
        spec = DomainSpec(domain.lower().rstrip("."))
    if selectors:
        found = {}
        for s in selectors:
            try:
                found[s] = load_private_key(spec.domain, s, keys_dir).info()
            except WorkbenchError:
                continue
        spec = DomainSpec(spec.domain, selectors, spec.ips, spec.return_path, found, spec.esp)
    click.echo(records_for(spec, includes=includes, mx=mx, rua=rua), nl=False)


@click.group("dkim")
def dkim_group() -> None:
    """DKIM keys: generate, list, plan a rotation."""


@dkim_group.command("keygen")
@click.argument("domain")
@click.option("--selector", required=True, help="The selector (e.g. bm202611).")
@click.option("--algorithm", type=click.Choice(["rsa", "ed25519"]), default="rsa", show_default=True)
@click.option("--bits", type=int, default=2048, show_default=True, help="RSA key size (2048 or more).")
@click.option("--overwrite", is_flag=True, help="Replace an existing key (prefer a new selector).")
@click.option("--keys", type=click.Path(file_okay=False, path_type=Path), default=None, help="DKIM keys folder.")
@click.pass_context
@handle_errors
def keygen_command(ctx: click.Context, domain: str, selector: str, algorithm: str, bits: int, overwrite: bool,
                   keys: Path | None) -> None:
    """Generate a key (stored 0600) and print the TXT record to publish."""
    from workbench.auth.dkim_keys import generate_key, txt_strings

    key = generate_key(domain, selector, algorithm=algorithm, bits=bits, keys_dir=_keys_dir(ctx, keys), overwrite=overwrite)
    err.print(f"wrote {key.path} ({key.algorithm}, {key.bits} bits); publish:", highlight=False)
    click.echo(f"{key.record_name}. 3600 IN TXT " + " ".join(f'"{s}"' for s in txt_strings(key.txt_record())))


@dkim_group.command("keys")
@click.option("--keys", type=click.Path(file_okay=False, path_type=Path), default=None, help="DKIM keys folder.")
@json_option
@click.pass_context
@handle_errors
def keys_command(ctx: click.Context, keys: Path | None, as_json: bool) -> None:
    """List the stored keys with their age."""
    from workbench.auth.dkim_keys import list_keys

    rows = [{"domain": k.domain, "selector": k.selector, "algorithm": k.algorithm, "bits": k.bits,
             "created": k.created.isoformat() if k.created else None,
             "age_days": (date.today() - k.created).days if k.created else None, "path": str(k.path)}
            for k in list_keys(_keys_dir(ctx, keys))]
    if as_json:
        _emit(rows)
        return
    table = Table("domain", "selector", "algorithm", "bits", "created", "age (days)")
    for r in rows:
        table.add_row(str(r["domain"]), str(r["selector"]), str(r["algorithm"]), str(r["bits"]), str(r["created"] or ""),
                      str(r["age_days"] if r["age_days"] is not None else ""))
    out.print(table)


@dkim_group.command("plan")
@click.argument("domain")
@click.option("--selector", default=None, help="The selector to rotate away from (default: the oldest key of the domain).")
@click.option("--new-selector", default=None, help="The new selector (default: the old one's letters + year-month).")
@click.option("--keys", type=click.Path(file_okay=False, path_type=Path), default=None, help="DKIM keys folder.")
@json_option
@click.pass_context
@handle_errors
def plan_command(ctx: click.Context, domain: str, selector: str | None, new_selector: str | None, keys: Path | None,
                 as_json: bool) -> None:
    """Print the dated steps of a DKIM key rotation for DOMAIN."""
    from workbench.auth.dkim_keys import list_keys
    from workbench.auth.records import rotation_plan

    mine = [k for k in list_keys(_keys_dir(ctx, keys)) if k.domain == domain.lower().rstrip(".")]
    if selector:
        mine = [k for k in mine if k.selector == selector]
    mine.sort(key=lambda k: k.created or date.min)
    old = mine[0].info() if mine else None
    steps = rotation_plan(domain.lower().rstrip("."), old, new_selector=new_selector)
    if as_json:
        _emit([{"day": s.day.isoformat(), "action": s.action, "record": s.record} for s in steps])
        return
    for s in steps:
        out.print(f"[bold]{s.day}[/] {s.action}", highlight=False)
        if s.record:
            out.print(f"    {s.record}", highlight=False, soft_wrap=True)


#: the commands of this area, registered by :mod:`workbench.cli`
COMMANDS: list[click.Command] = [audit_command, dns_group, dkim_group]
