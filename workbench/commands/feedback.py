"""``workbench classify``, ``workbench suppression ...`` and ``workbench mailbox fetch``.

Exit codes: 0 success; 1 an error the message explains (missing file, bad rules file,
unreadable store, IMAP failure).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from workbench.cli import _emit, _store, db_option, err, handle_errors, json_option, out
from workbench.errors import ConfigError

__all__ = ["COMMANDS", "classify", "mailbox", "suppression"]

CLASSIFY_FIELDS = ("file", "recipient", "reason", "hard", "status", "reply_code", "diagnostic", "feedback_type", "rule")


def classify_rows(path: Path, shown: str, rules: Any) -> list[dict[str, Any]]:
    """The ``classify`` objects of one file (one per recipient; one empty object when the
    file holds neither a bounce nor a complaint)."""
    from workbench.feedback import parse_message
    from workbench.sources.mailbox import iter_messages

    rows: list[dict[str, Any]] = []
    for item in iter_messages(path):
        if item.error:
            continue
        report = parse_message(item.data, rules)
        for b in report.bounces:
            rows.append({"file": shown, "recipient": b.recipient, "reason": b.reason, "hard": b.hard,
                         "status": b.status, "reply_code": b.reply_code, "diagnostic": b.diagnostic,
                         "feedback_type": None, "rule": b.rule})
        for c in report.complaints:
            rows.append({"file": shown, "recipient": c.recipient, "reason": "feedback", "hard": False,
                         "status": None, "reply_code": None, "diagnostic": c.user_agent,
                         "feedback_type": c.feedback_type, "rule": c.rule})
    if not rows:
        rows.append({name: (shown if name == "file" else None) for name in CLASSIFY_FIELDS})
    return rows


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--jsonl", is_flag=True, help="One JSON object per line (file, recipient, reason, hard, status, "
              "reply_code, diagnostic, feedback_type, rule).")
@click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="A YAML rules file (or folder) to add to the packaged rules and those named in "
                   "$WORKBENCH_BOUNCE_RULES; repeatable.")
@handle_errors
def classify(paths: tuple[Path, ...], jsonl: bool, rule_files: tuple[Path, ...]) -> None:
    """Classify bounce and complaint mail: .eml files, mbox files, Maildir or plain folders.

    Prints one row per recipient with the reason (Sisimai's taxonomy), whether it is hard,
    and the rule that decided; a file that is neither a bounce nor a complaint gets one row
    with reason null. Nothing is written to the store.
    """
    from workbench.feedback.rules import RULES_ENV, RuleSet, site_rules
    from workbench.sources.mailbox import is_maildir
    from workbench.sources.reader import iter_files

    rules = RuleSet.load([*filter(None, os.environ.get(RULES_ENV, '').split(os.pathsep)), *rule_files]) \
        if rule_files else site_rules()
    table = Table(*CLASSIFY_FIELDS[1:], title=None) if not jsonl else None
    for given in paths:
        files = [given] if given.is_file() or is_maildir(given) else list(iter_files([given]))
        for path in files:
            shown = str(given) if path == given else str(path)
            for row in classify_rows(path, shown, rules):
                if jsonl:
                    click.echo(json.dumps(row, ensure_ascii=False, default=str))
                else:
                    assert table is not None
                    table.add_row(*("" if row[k] is None else str(row[k])[:70] for k in CLASSIFY_FIELDS[1:]))
    if table is not None:
        out.print(table)


@click.group()
def suppression() -> None:
    """Who must not be mailed: list, add, lift (remove), explain; sync from events."""


@suppression.command("list")
@click.option("--scope", default=None, help="Only this scope (global or a list name).")
@click.option("--reason", default=None, help="complaint, hard-bounce, soft-bounce, unsubscribe or manual.")
@click.option("--lifted", is_flag=True, help="Include lifted suppressions.")
@click.option("--limit", type=int, default=50, show_default=True)
@db_option
@json_option
@click.pass_context
@handle_errors
def list_command(ctx: click.Context, scope: str | None, reason: str | None, lifted: bool, limit: int,
                 db: Path | None, as_json: bool) -> None:
    """List suppressions, newest first."""
    from workbench.audience.suppression import list_suppressions

    rows = list_suppressions(_store(ctx, db), scope=scope, reason=reason, include_lifted=lifted, limit=limit)
    if as_json:
        _emit(rows.to_dicts())
        return
    table = Table("address", "scope", "reason", "since", "by", "lifted", "detail")
    for r in rows.iter_rows(named=True):
        table.add_row(r["address"] or r["contact_id"] or "", r["scope"], r["reason"], str(r["created_at"]),
                      r["created_by"], str(r["lifted_at"] or ""), (r["detail"] or "")[:60])
    out.print(table)


@suppression.command("add")
@click.argument("address")
@click.option("--by", "by", required=True, help="Who suppresses it.")
@click.option("--note", default=None, help="Why (kept with the suppression).")
@click.option("--scope", default="global", show_default=True, help="global, or a list name.")
@db_option
@click.pass_context
@handle_errors
def add_command(ctx: click.Context, address: str, by: str, note: str | None, scope: str, db: Path | None) -> None:
    """Suppress ADDRESS by hand."""
    from workbench.audience.suppression import add

    ident = add(_store(ctx, db), address, by=by, note=note, scope=scope)
    out.print(f"suppressed {address} ({scope}); id {ident}")


@suppression.command("remove")
@click.argument("address")
@click.option("--by", "by", required=True, help="Who lifts it.")
@click.option("--reason", required=True, help="Why it may be mailed again.")
@click.option("--scope", default=None, help="Only this scope (default: all of the address's).")
@db_option
@click.pass_context
@handle_errors
def remove_command(ctx: click.Context, address: str, by: str, reason: str, scope: str | None, db: Path | None) -> None:
    """Lift the suppressions of ADDRESS (kept in the history, with who and why)."""
    from workbench.audience.suppression import lift

    count = lift(_store(ctx, db), address, by=by, reason=reason, scope=scope)
    if not count:
        raise ConfigError(f"{address} has no active suppression{f' in scope {scope}' if scope else ''}; "
                          "see `workbench suppression explain ADDRESS`")
    out.print(f"lifted {count} suppression(s) of {address}")


@suppression.command("explain")
@click.argument("address")
@db_option
@json_option
@click.pass_context
@handle_errors
def explain_command(ctx: click.Context, address: str, db: Path | None, as_json: bool) -> None:
    """Why ADDRESS is (or was) suppressed: each suppression and the event behind it."""
    from workbench.audience.suppression import explain

    rows = explain(_store(ctx, db), address)
    if as_json:
        _emit(rows.to_dicts())
        return
    if rows.is_empty():
        out.print(f"{address} was never suppressed")
        return
    for r in rows.iter_rows(named=True):
        state = f"lifted {r['lifted_at']} by {r['lifted_by']}: {r['lift_reason']}" if r["lifted_at"] else "active"
        out.print(f"[bold]{r['reason']}[/] ({r['scope']}) since {r['created_at']} — {state}")
        out.print(f"  {r['detail'] or ''}", highlight=False)
        if r["event_type"]:
            out.print(f"  event: {r['event_type']} {r['event_at']} from {r['event_source']} "
                      f"({r['event_file']}) campaign {r['campaign_id']} ip {r['sending_ip']}", highlight=False)


@suppression.command("sync")
@click.option("--soft-count", type=int, default=None, help="Soft bounces in a row that suppress (kept).")
@click.option("--soft-days", type=int, default=None, help="...within this many days (kept).")
@db_option
@json_option
@click.pass_context
@handle_errors
def sync_command(ctx: click.Context, soft_count: int | None, soft_days: int | None, db: Path | None, as_json: bool) -> None:
    """Create the suppressions the events call for (also runs after every load)."""
    from workbench.audience.suppression import policy, set_policy, sync

    store = _store(ctx, db)
    rules = set_policy(store, soft_count=soft_count, soft_days=soft_days) if (soft_count or soft_days) else policy(store)
    created = sync(store)
    data = {"created": created, "policy": rules}
    if as_json:
        _emit(data)
    else:
        out.print(f"{created} new suppression(s); soft-bounce policy: {rules['soft_count']} in a row "
                  f"within {rules['soft_days']} days")


@click.group()
def mailbox() -> None:
    """Mailboxes: fetch an IMAP folder into a local Maildir (then `workbench load` it)."""


@mailbox.command("fetch")
@click.option("--host", required=True, help="IMAP server.")
@click.option("--port", type=int, default=None, help="Port (default 993 for ssl, 143 otherwise).")
@click.option("--user", required=True, help="Login name.")
@click.option("--password-env", default="WORKBENCH_IMAP_PASSWORD", show_default=True,
              help="Environment variable holding the password (never pass it on the command line).")
@click.option("--folder", default="INBOX", show_default=True, help="Folder to read.")
@click.option("--security", type=click.Choice(["ssl", "starttls", "plain"]), default="ssl", show_default=True)
@click.option("--to", "target", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Maildir to write (created); fetching again only adds new messages.")
@click.option("--limit", type=int, default=None, help="At most this many new messages.")
@json_option
@handle_errors
def fetch(host: str, port: int | None, user: str, password_env: str, folder: str, security: str, target: Path,
          limit: int | None, as_json: bool) -> None:
    """Copy the new messages of an IMAP folder into a local Maildir (the server is not
    changed: messages stay unread and in place); then `workbench load` the Maildir (bounces,
    complaints and DMARC reports are told apart by their content)."""
    from workbench.sources.mailbox import ImapFolder, fetch_to_maildir

    password = os.environ.get(password_env)
    if password is None:
        raise ConfigError(f"set the IMAP password in ${password_env} (or name another variable with --password-env)")
    with ImapFolder(host, user, password, port=port, folder=folder, security=security) as box:
        written = fetch_to_maildir(box, target, limit=limit)
    if as_json:
        _emit({"maildir": str(target), "fetched": written})
    else:
        err.print(f"fetched {written} message(s) into {target}; load them with `workbench load {target}`")


#: registered by workbench.cli
COMMANDS: list[click.Command] = [classify, suppression, mailbox]
