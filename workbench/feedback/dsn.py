"""Delivery status notifications: the machine-readable fields of RFC 3464 (and RFC 1894),
and the generic decoder for DSNs from MTAs that have no decoder of their own.

``split_body`` cuts a flat body (see :mod:`.mime`) into the report and the returned
message; ``DsnFields`` reads ``Final-Recipient`` / ``Action`` / ``Status`` /
``Diagnostic-Code`` / ``Remote-MTA`` ... groups into :class:`Delivery` records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from workbench.feedback.model import Delivery
from workbench.feedback.smtp import find_command, find_reply, find_status

__all__ = ["DsnFields", "clean_address", "field", "rfc3464", "split_body", "sweep"]

ORIGINAL_BOUNDARIES = (
    "Content-Type: message/rfc822",
    "Content-Type: message/global",
    "Content-Type: text/rfc822-headers",
    "Content-Type: text/global-headers",
    "Content-Type: message/partial",
)
PER_MESSAGE = {"reporting-mta": "reporting_mta", "received-from-mta": "", "arrival-date": "date",
               "x-original-message-id": ""}
PER_RECIPIENT = {
    "final-recipient": "recipient", "original-recipient": "alias", "x-actual-recipient": "alias",
    "action": "action", "status": "status", "remote-mta": "remote_mta", "diagnostic-code": "diagnostic",
    "last-attempt-date": "date",
}
ACTIONS = {"failed", "delayed", "delivered", "relayed", "expanded"}
ACTION_FIXES = {"deliverable": "delivered", "expired": "delayed", "failure": "failed"}
_ADDRESS = re.compile(r"<?([^\s<>()\"',;:]+@[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9])>?")
_SPACES = re.compile(r"\s+")
_BOUNDARY_TAIL = re.compile(r" --[-=_A-Za-z0-9./]{8,}(?: |$)")


def sweep(text: str) -> str:
    """Collapse white space, and drop a trailing boundary line or ``__`` tail."""
    text = _SPACES.sub(" ", text).strip()
    match = _BOUNDARY_TAIL.search(text)
    if match and match.start() > 0:
        text = text[: match.start()].strip()
    return text


def clean_address(value: str) -> str:
    """The bare, lower-cased address in ``value`` (``rfc822; <a@b>`` -> ``a@b``), or ``""``."""
    value = value.strip().strip("<>").strip()
    if value.lower().startswith("rfc822;"):
        value = value[7:].strip()
    match = _ADDRESS.search(value)
    if not match:
        return ""
    return match[1].strip(".").lower()


def split_body(body: str, boundaries: Iterable[str] = ORIGINAL_BOUNDARIES) -> tuple[str, str]:
    """The report and the returned message: the body cut at the first of ``boundaries``
    (a line that starts with one of them)."""
    best = -1
    for boundary in boundaries:
        at = body.find(boundary)
        while at > 0 and body[at - 1] != "\n":
            at = body.find(boundary, at + 1)
        if at >= 0 and (best < 0 or at < best):
            best = at
    if best < 0:
        return body, ""
    rest = body[best:]
    return body[:best], rest.split("\n", 1)[1] if "\n" in rest else ""


def field(line: str) -> tuple[str, str, str, str] | None:
    """``(name, type, value, comment)`` of a DSN field line, or ``None``.

    ``Diagnostic-Code: SMTP; 550 ...`` -> ``("diagnostic-code", "SMTP", "550 ...", "")``;
    a parenthesised comment at the end of a value is split off
    (``Status: 4.0.0 (host lookup failure)``).
    """
    name, sep, value = line.partition(":")
    if not sep:
        return None
    key = name.strip().lower()
    if key not in PER_MESSAGE and key not in PER_RECIPIENT:
        return None
    value = value.strip()
    kind = ""
    if key in ("final-recipient", "original-recipient", "x-actual-recipient", "diagnostic-code",
               "remote-mta", "reporting-mta", "received-from-mta"):
        if ";" in value:
            kind, _, value = value.partition(";")
            kind, value = kind.strip().upper(), value.strip()
        else:
            kind = {"diagnostic-code": "SMTP"}.get(key, "RFC822" if "recipient" in key else "DNS")
        if key.endswith("-mta"):
            value = value.lower()
    elif key == "action":
        lowered = value.lower().split()[0] if value else ""
        value = lowered if lowered in ACTIONS else ACTION_FIXES.get(lowered, "")
    elif key == "status":
        value = value.lower()
    comment = ""
    match = re.search(r" \(([^()]*)\)\s*$", value)
    if match and key != "diagnostic-code":
        comment = match[1]
        value = value[: match.start()].strip()
    if key == "status":
        value = value.split()[0] if value else ""
    return key, kind, value, comment


class DsnFields:
    """Reads the field groups of a ``message/delivery-status`` part, line by line."""

    def __init__(self) -> None:
        self.records: list[Delivery] = []
        self.per_message: dict[str, str] = {}
        self._last_field = ""
        self.leading: list[str] = []

    @property
    def current(self) -> Delivery:
        if not self.records:
            self.records.append(Delivery())
        return self.records[-1]

    def feed(self, line: str) -> bool:
        """Take one line; False when it is neither a DSN field nor a continuation."""
        parsed = field(line) if line and line[0] not in " \t" else None
        if parsed is None:
            if line[:1] in (" ", "\t") and self._last_field == "diagnostic-code" and self.records:
                self.current.diagnostic += " " + line.strip()
                return True
            self._last_field = ""
            return False
        key, kind, value, comment = parsed
        self._last_field = key
        if key in PER_MESSAGE:
            if PER_MESSAGE[key]:
                self.per_message[PER_MESSAGE[key]] = value
            return True
        if key == "final-recipient":
            address = clean_address(value)
            if not address and re.match(r"^@[A-Za-z0-9.-]+$", value.strip().strip("<>")):
                address = value.strip().strip("<>").lower()  # no local part: a decoder may find it elsewhere
            if not address:
                if not self.records or self.current.recipient:
                    self.records.append(Delivery(spec="X-UNIX" if value.startswith("|") else ""))
                return True
            if self.records and self.records[-1].recipient == address:
                return True
            if not self.records or self.current.recipient:
                self.records.append(Delivery())
            self.current.recipient = address
            return True
        record = self.current
        if key == "diagnostic-code":
            record.spec = kind
            record.diagnostic = value
        elif key in ("original-recipient", "x-actual-recipient"):
            record.alias = clean_address(value)
        elif key == "status":
            record.status = value
            if comment:
                record.diagnostic = f"{record.diagnostic} {comment}".strip()
        else:
            attr = PER_RECIPIENT[key]
            setattr(record, attr, value)
        return True

    def finish(self) -> list[Delivery]:
        """The records with an address, per-message values filled in."""
        out = []
        for record in self.records:
            if not record.recipient and record.alias:
                record.recipient = record.alias
            if not record.recipient:
                continue
            for attr, value in self.per_message.items():
                record.set_if_empty(attr, value)
            out.append(record)
        return out


def scan_fields(text: str) -> tuple[list[Delivery], list[str]]:
    """DSN records of ``text`` and the lines outside field groups (human-readable text)."""
    reader = DsnFields()
    others: list[str] = []
    for line in text.split("\n"):
        if not reader.feed(line) and line.strip():
            others.append(line)
    return reader.finish(), others


def finish_records(records: list[Delivery], context: str = "") -> None:
    """Fill command, reply code and status of each record from its diagnostic (or ``context``)."""
    alt_command = find_command(context)
    for record in records:
        record.diagnostic = sweep(record.diagnostic)
        record.set_if_empty("command", find_command(record.diagnostic) or alt_command)
        record.set_if_empty("reply_code", find_reply(record.diagnostic, record.status))
        if not record.status:
            record.status = find_status(record.diagnostic, record.reply_code)


_SKIP_LEADING = ("Content-", "This is a MIME", "This is a multi", "This is an auto", "This multi-part", "###",
                 "***", "--")


def rfc3464(body: str) -> tuple[list[Delivery], str]:
    """The generic decoder: the DSN fields of any RFC 3464 report (and the returned message).

    For a single recipient, the human-readable text before the report joins its diagnostic
    (it often says more than the fields).
    """
    report, original = split_body(body)
    if "@" not in report and original:
        # the bounce itself came attached (a report of a report): read the attached one
        _, _, inner = original.partition("\n\n")
        report, original = split_body(inner)
    if "Content-Type: message/delivery-status" not in report and "\nReporting-MTA:" in report:
        report = report.replace("\nReporting-MTA:", "\nContent-Type: message/delivery-status\nReporting-MTA:", 1)
    head, sep, status_part = report.partition("Content-Type: message/delivery-status")
    if not sep:
        return [], original
    records, _ = scan_fields(status_part)
    if not records:
        return [], original
    leading = [ln for ln in head.split("\n") if ln.strip() and not ln.startswith(_SKIP_LEADING)
               and "--- The follow" not in ln and "--- Transcript" not in ln]
    before = sweep(" ".join(leading))
    for record in records:
        record.diagnostic = sweep(record.diagnostic)
    if len(records) == 1 and before:
        record = records[0]
        if record.diagnostic.lower() in before.lower():
            record.diagnostic = before
        else:
            record.diagnostic = sweep(before + " " + record.diagnostic)
    finish_records(records, before)
    return records, original
