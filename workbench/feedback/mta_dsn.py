"""Decoders for MTAs that send a DSN part *and* say more in the human-readable part:
Postfix and Sendmail. The DSN fields give the recipients; the text gives the SMTP
command and, often, a fuller error message.
"""

from __future__ import annotations

import re

from workbench.feedback.dsn import DsnFields, clean_address, split_body, sweep
from workbench.feedback.mime import Mail
from workbench.feedback.model import Delivery
from workbench.feedback.rules import RuleSet
from workbench.feedback.smtp import find_command, find_reply, find_status

__all__ = ["postfix", "sendmail", "v5sendmail"]

Decoded = tuple[list[Delivery], str]

_POSTFIX_START = (("The ", "Postfix "), ("The ", "mail system"), ("The ", "program"), ("This is the", "Postfix"),
                  ("This is the", "mail system"))
_EXPANDED = re.compile(r"^<([^<>]+@[^<>]+)>\s*\(expanded from <([^<>]*)>\):\s*(.*)$")
_ADDR_LINE = re.compile(r"^<([^<>]+@[^<>]+)>:\s*(.*)$")


def _aligned(line: str, parts: tuple[str, ...]) -> bool:
    at = 0
    for part in parts:
        at = line.find(part, at)
        if at < 0:
            return False
        at += len(part)
    return True


def _only_numbers(text: str) -> bool:
    return bool(re.fullmatch(r"[\d.\s]+", text or ""))


def postfix(mail: Mail, rules: RuleSet) -> Decoded | None:
    """Postfix's bounce (``Undelivered Mail Returned to Sender``)."""
    if "x-aol-ip" in mail.headers or mail.subject != "Undelivered Mail Returned to Sender":
        return None
    report, original = split_body(mail.body, ("Content-Type: message/rfc822", "Content-Type: text/rfc822-headers"))
    dsn = DsnFields()
    started = False
    another = {"recipient": "", "alias": "", "diagnosis": ""}
    said: dict[str, dict[str, str]] = {}  # each recipient's paragraph in the text part
    commands: list[str] = []
    unavailable = False
    for line in report.split("\n"):
        if not started:
            started = any(_aligned(line, p) for p in _POSTFIX_START)
            continue
        if dsn.feed(line):
            continue
        if "(in reply to " in line or "command)" in line:
            command = find_command(line)
            if command:
                commands.append(command)
            if another["diagnosis"]:
                another["diagnosis"] += " " + line
            continue
        match = _EXPANDED.match(line) or None
        if match:
            another = said.setdefault(match[1].lower(), {"recipient": match[1], "alias": match[2], "diagnosis": match[3]})
            continue
        match = _ADDR_LINE.match(line)
        if match:
            another = said.setdefault(match[1].lower(), {"recipient": match[1], "alias": "", "diagnosis": match[2]})
            continue
        if "--- Delivery report unavailable ---" in line:
            unavailable = True
            continue
        if another["diagnosis"] and line.startswith("    "):
            another["diagnosis"] += " " + line.strip()
    records = dsn.finish()
    if not records:
        if another["recipient"]:
            records = [Delivery(recipient=clean_address(another["recipient"]), alias=clean_address(another["alias"]))]
        elif unavailable:
            to = re.search(r"^To:\s*(.+)$", original, re.MULTILINE)
            address = clean_address(to[1]) if to else ""
            records = [Delivery(recipient=address)] if address else []
    if not records:
        return None
    last = sweep(another["diagnosis"])
    for record in records:
        mine = said.get(record.recipient.lower())
        alt = sweep(mine["diagnosis"]) if mine else last
        if record.spec.upper() == "X-POSTFIX":
            record.spec = "SMTP"
        if alt:
            if not record.diagnostic or _only_numbers(record.diagnostic):
                record.diagnostic = alt
            else:
                found_status = found_reply = ""
                if not record.status or record.status.endswith(".0.0"):
                    found_status = find_status(alt)
                    if found_status and not found_status.endswith(".0.0"):
                        record.status = found_status
                if not record.reply_code or record.reply_code.endswith("00"):
                    found_reply = find_reply(alt)
                    if found_reply and not found_reply.endswith("00"):
                        record.reply_code = found_reply
                if (found_status or found_reply) and len(alt) >= len(record.diagnostic) \
                        and sweep(record.diagnostic) in alt:
                    record.diagnostic = alt
        record.diagnostic = sweep(record.diagnostic)
        if commands:
            record.command = commands[0]
        else:
            record.command = find_command(record.diagnostic)
            if not record.command and "refused to talk to me:" in record.diagnostic:
                record.command = "HELO"
        if not record.spec and _aligned(record.diagnostic, ("host ", " said:")):
            record.spec = "SMTP"
    return records, original


def sendmail(mail: Mail, rules: RuleSet) -> Decoded | None:
    """Sendmail's DSN (``Returned mail: see transcript for details``, ``Warning: ...``)."""
    subject = mail.subject
    if "x-aol-ip" in mail.headers or not (subject.startswith("Warning: ") or subject.endswith("see transcript for details")):
        return None
    report, original = split_body(mail.body, ("Content-Type: message/rfc822", "Content-Type: text/rfc822-headers"))
    dsn = DsnFields()
    started = session_error = False
    replies: list[str] = []
    command = ""
    another = {"status": "", "diagnosis": ""}
    for line in report.split("\n"):
        if not started:
            started = line.startswith("   ----- Transcript of session follows -----")
            continue
        if dsn.feed(line):
            continue
        if line.startswith(" "):
            continue
        if line.startswith(">>> "):
            command = command or find_command(line)
        elif line.startswith("<<< "):
            if line[4:] not in replies:
                replies.append(line[4:])
        elif not session_error:
            if line.startswith("... while talking to "):
                session_error = True
            elif line.startswith("<") and _aligned(line, ("@", ">.", " ")):
                another["diagnosis"] = line.split(" ", 1)[1] if " " in line else ""
            else:
                reply, status = find_reply(line), find_status(line)
                if len(reply + status) > 7:
                    another["status"] = status
                    another["diagnosis"] += " " + line
                elif line.startswith(("Message: ", "Warning: ")):
                    another["diagnosis"] += " " + line
    records = dsn.finish()
    if not records:
        return None
    for record in records:
        alt = another["diagnosis"].strip()
        if alt and (not record.diagnostic or record.diagnostic.startswith(" ") or _only_numbers(record.diagnostic)):
            record.diagnostic = alt
        if replies and len(records) == 1:
            record.diagnostic = " ".join(replies) + " " + record.diagnostic
        record.diagnostic = sweep(record.diagnostic)
        record.command = command or find_command(record.diagnostic) or ("EHLO" if replies else "")
        if another["status"] and not record.status:
            record.status = another["status"]
        if record.recipient.startswith("@"):
            found = re.search(r"<([^<>@\s]+@[^<>\s]+)>", record.diagnostic)
            record.recipient = clean_address(found[1]) if found else ""
    records = [r for r in records if r.recipient]
    return (records, original) if records else None


_V5_ADDRESS = re.compile(r" <([^<>\s]+@[^<>\s]+)>\.\.\.")
_V5_RCPT = re.compile(r">>> RCPT TO:\s*<([^<>\s]+@[^<>\s]+)>", re.IGNORECASE)
_HOSTNAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9]*(?:\.[-A-Za-z0-9]+)+)")


def v5sendmail(mail: Mail, rules: RuleSet) -> Decoded | None:
    """Sendmail 5's text bounce (``Returned mail: ...`` with a session transcript)."""
    if not mail.subject.startswith("Returned mail: "):
        return None
    report, original = split_body(mail.body, ("   ----- Unsent message follows -----",
                                              "  ----- No message was collected -----"))
    if not original:
        return None
    records: list[Delivery] = []
    another: dict[int, str] = {}
    started = False
    remote = command = ""
    current: Delivery | None = None
    for line in report.split("\n"):
        if not started:
            started = "----- Transcript of session follows -----" in line
            continue
        if not line.strip():
            continue
        if line.startswith(">>> "):
            command = find_command(line[4:])
        match = _V5_ADDRESS.search(line) or _V5_RCPT.search(line)
        if match:
            address = clean_address(match[1])
            if not remote:
                another[len(records)] = another.get(len(records), "") + " " + line
                continue
            if current is not None and (address == current.recipient or (command == "MAIL" and line.startswith("<<< "))):
                current.diagnostic += " " + line
                command = ""
            elif current is not None and not current.recipient:
                current.recipient, current.remote_mta = address, remote
                current.command = current.command or command
                current.diagnostic += " " + line
            else:
                current = Delivery(recipient=address, remote_mta=remote, command=command, diagnostic=line)
                records.append(current)
        elif "While talking to " in line:
            host = _HOSTNAME.search(line.split("While talking to ", 1)[1])
            remote = host[1].lower() if host else remote
        elif line.startswith((">>> ", "<<< ")):
            if current is None:
                current = Delivery()
                records.append(current)
            current.diagnostic += " " + line
        else:
            another[len(records)] = another.get(len(records), "") + " " + line
    if not any(r.recipient for r in records):
        records = []
        for _, text in sorted(another.items()):
            found = re.search(r"<([^<>\s]+@[^<>\s]+)>", text)
            if found:
                records.append(Delivery(recipient=clean_address(found[1]), diagnostic=text))
        if not records:
            to = re.search(r"^To: (.+)$", original, re.MULTILINE)
            address = clean_address(to[1]) if to else ""
            if not address:
                return None
            records = [Delivery(recipient=address, diagnostic=another.get(0, ""))]
    for index, record in enumerate(records):
        if not record.diagnostic.strip():
            record.diagnostic = another.get(index, "")
        record.diagnostic = sweep(record.diagnostic)
        record.command = record.command or find_command(record.diagnostic)
    records = [r for r in records if r.recipient]
    return (records, original) if records else None
