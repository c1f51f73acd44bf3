"""``workbench dmarc …``: fetch report mail over IMAP, enrich, summarise.

Loading report files, mails, mboxes and Maildir folders needs no command of its own:
``workbench load PATH`` recognises them. Exit codes: 0 success; 1 an error the message
explains (server unreachable, bad login, no store); 2 some input was quarantined.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from workbench.cli import _emit, _store, db_option, err, handle_errors, json_option, out


@click.group()
def dmarc() -> None:
    """DMARC aggregate/failure and SMTP TLS reports: fetch over IMAP, enrich, summarise.

    Files (.xml, .xml.gz, .zip, .json, .eml, mbox, Maildir) load with `workbench load`.
    """


@dmarc.command()
@click.option("--host", required=True, help="IMAP server.")
@click.option("--port", type=int, default=None, help="Port (default 993 for ssl, 143 otherwise).")
@click.option("--user", required=True, help="Login name.")
@click.option("--password-env", default="WORKBENCH_IMAP_PASSWORD", show_default=True,
              help="Environment variable holding the password (never pass it on the command line).")
@click.option("--folder", default="INBOX", show_default=True, help="Folder to read.")
@click.option("--archive", default=None, help="Move processed messages to this folder (created if missing).")
@click.option("--security", type=click.Choice(["ssl", "starttls", "plain"]), default="ssl", show_default=True)
@click.option("--limit", type=int, default=None, help="At most this many messages (oldest first).")
@click.option("--spool", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where messages are saved as received (default: data/raw/imap).")
@db_option
@json_option
@click.pass_context
@handle_errors
def fetch(ctx: click.Context, host: str, port: int | None, user: str, password_env: str, folder: str, archive: str | None,
          security: str, limit: int | None, spool: Path | None, db: Path | None, as_json: bool) -> None:
    """Fetch report mail from an IMAP folder, save it under data/raw/imap, load it, and
    move what loaded to --archive."""
    from workbench.dmarc.fetch import fetch_imap
    from workbench.sources.mailbox import ImapFolder

    password = os.environ.get(password_env)
    if password is None:
        raise click.UsageError(f"set the IMAP password in ${password_env} (or name another variable with --password-env)")
    store = _store(ctx, db)
    box = ImapFolder(host, user, password, port=port, folder=folder, archive=archive, security=security)
    target = spool or ctx.obj["settings"].raw_dir / "imap"
    with Progress(TextColumn("[bold]fetching[/]"), BarColumn(), MofNCompleteColumn(), console=err, transient=True) as bar:
        task = bar.add_task("", total=None)
        summary = fetch_imap(store, box, target, limit=limit, progress=lambda d, t: bar.update(task, completed=d, total=t))
    data = summary.as_dict()
    if as_json:
        _emit(data)
    else:
        out.print(f"{len(summary.files)} message(s): {data['files_loaded']} loaded, {data['files_skipped']} already loaded, "
                  f"{data['files_failed']} failed; {summary.rows_loaded:,} rows")
        if summary.exit_code:
            err.print("some input was quarantined: see `workbench quarantine`")
    sys.exit(summary.exit_code)


@dmarc.command()
@click.option("--rdns/--no-rdns", default=False, show_default=True, help="Resolve source IPs' reverse DNS (cached in the store).")
@click.option("--tree-walk", is_flag=True, help="Organizational domains by the RFC 9989 DNS tree walk instead of the public suffix list.")
@click.option("--nameserver", multiple=True, help="Resolver address(es) (default: the system's).")
@click.option("--port", "ns_port", type=int, default=53, show_default=True, help="Resolver port.")
@db_option
@json_option
@click.pass_context
@handle_errors
def enrich(ctx: click.Context, rdns: bool, tree_walk: bool, nameserver: tuple[str, ...], ns_port: int, db: Path | None, as_json: bool) -> None:
    """Organizational domains of every identifier; with --rdns, reverse DNS and the sending
    service of every source IP."""
    from workbench.dmarc.enrich import enrich as run

    resolver: Any = None
    if rdns or tree_walk:
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=not nameserver)
        if nameserver:
            resolver.nameservers = list(nameserver)
            resolver.port = ns_port
        resolver.lifetime = 5.0
    store = _store(ctx, db)
    with Progress(TextColumn("[bold]reverse DNS[/]"), BarColumn(), MofNCompleteColumn(), console=err, transient=True) as bar:
        task = bar.add_task("", total=None)
        result = run(store, resolver, rdns=rdns, tree_walk=tree_walk, progress=lambda d, t: bar.update(task, completed=d, total=t))
    if as_json:
        _emit(result.__dict__)
    else:
        out.print(f"{result.domains} new domain(s) with their organizational domain; "
                  f"{result.ips} IP(s) looked up, {result.ptr_found} with a PTR")


@dmarc.command()
@click.option("--days", type=int, default=30, show_default=True, help="The last N days the reports cover.")
@click.option("--domain", default=None, help="Only this organizational domain.")
@db_option
@json_option
@click.pass_context
@handle_errors
def summary(ctx: click.Context, days: int, domain: str | None, db: Path | None, as_json: bool) -> None:
    """Policy readiness per domain and the largest senders that are not ours."""
    from workbench.dmarc import analytics

    store = _store(ctx, db)
    start, end = analytics.default_window(store, days)
    ready = analytics.policy_readiness(store, start, end, domain)
    unknown = analytics.unknown_senders(store, start, end, domain, limit=10)
    if as_json:
        _emit({"start": start, "end": end, "readiness": ready.to_dicts(), "unknown_senders": unknown.to_dicts()})
        return
    table = Table("header_from", "p", "messages", "pass rate", "own failing", "others failing", "verdict", title=f"{start} – {end}")
    for r in ready.iter_rows(named=True):
        table.add_row(r["header_from"], r["p"] or "", f"{r['messages']:,}", f"{(r['pass_rate'] or 0):.1%}",
                      f"{r['ours_failing']:,}", f"{r['others_failing']:,}", r["verdict"])
    out.print(table)
    senders = Table("source_ip", "ptr", "service", "messages", "pass rate", title="senders that are not ours")
    for r in unknown.iter_rows(named=True):
        senders.add_row(r["source_ip"], r["ptr"] or "", r["service"] or "", f"{r['messages']:,}", f"{(r['pass_rate'] or 0):.1%}")
    out.print(senders)
