"""MTA decoders described as data: the ``decoders`` section of ``mtas.yaml``.

Most MTAs that write a human-readable bounce without a DSN part follow one pattern: a
sentence that opens the error section, one line per failed recipient (an address in a
recognisable shape), the error text under it, and a line that introduces the returned
message. A decoder spec says how to recognise the MTA and those lines::

    dragonfly:
      detect:                           # any of these groups; all keys of a group must hold
        - subject: ["Mail delivery failed"]
          received: [" (DragonFly Mail Agent"]
      start: ["This is the DragonFly Mail Agent "]     # the error section begins (substring)
      original: ["Original message follows."]          # the returned message begins
      recipient:                                       # a line opening a record (regex)
        - "^There was an error delivering your mail to <(?P<addr>[^>]+)>"
      stop: []                                         # the error section ends (substring)
      skip: []                                         # lines to ignore (substring)

Detection keys: ``subject``, ``from``, ``to``, ``received``, ``message_id``, ``body``
(substrings; ``re:`` prefix for a regex), ``header`` (names that must be present). A
recipient regex may capture ``addr`` and ``diag`` (the rest of the line).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from workbench.feedback.dsn import DsnFields, clean_address, split_body, sweep
from workbench.feedback.mime import Mail
from workbench.feedback.model import Delivery
from workbench.feedback.rules import RuleSet
from workbench.feedback.smtp import find_command, find_status

__all__ = ["Spec", "decoder", "detect", "load_specs", "scan", "spec_of"]

Decoded = tuple[list[Delivery], str]


@dataclass(frozen=True)
class Spec:
    """One text decoder (see the module docstring)."""

    name: str
    detect: tuple[Mapping[str, tuple[str, ...]], ...]
    start: tuple[str, ...]
    original: tuple[str, ...]
    recipient: tuple[re.Pattern[str], ...]
    stop: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    blank_ends_record: bool = False
    command: str = ""
    preamble: bool = False
    include_start: bool = False
    rhost: tuple[re.Pattern[str], ...] = ()
    commands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    command_reasons: Mapping[str, str] = field(default_factory=dict)
    codes_regex: re.Pattern[str] | None = None
    codes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    status_overrides: bool = False
    fallback_recipient: tuple[str, ...] = ()
    append: bool = True
    shared: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    dsn: bool = False
    skip_8bit: bool = False
    fallback_original_to: bool = False
    header_reasons: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def _match(patterns: tuple[str, ...], values: list[str]) -> bool:
    for value in values:
        for pattern in patterns:
            if pattern.startswith("re:"):
                if re.search(pattern[3:], value):
                    return True
            elif pattern in value:
                return True
    return False


def _hit(key: str, patterns: tuple[str, ...], mail: Mail) -> bool:
    if key == "header":
        return all(name.lower() in mail.headers for name in patterns)
    if key == "body":
        return _match(patterns, [mail.body])
    return _match(patterns, mail.headers.get(key.replace("_", "-"), []))


def _skip(spec: Spec, line: str) -> bool:
    for pattern in spec.skip:
        if pattern.startswith("re:"):
            if re.search(pattern[3:], line):
                return True
        elif pattern in line:
            return True
    return spec.skip_8bit and not line.isascii()


def detect(spec: Spec, mail: Mail) -> bool:
    """True when ``mail`` looks like a bounce of this MTA."""
    for group in spec.detect:
        votes = int(group.get("votes", ("0",))[0])
        if votes:
            hits = sum(_hit(key, patterns, mail) for key, patterns in group.items() if key != "votes")
            if hits >= votes:
                return True
            continue
        ok = True
        for key, patterns in group.items():
            if key == "header":
                ok = all(name.lower() in mail.headers for name in patterns)
            elif key == "body":
                ok = _match(patterns, [mail.body])
            else:
                ok = _match(patterns, mail.headers.get(key.replace("_", "-"), []))
            if not ok:
                break
        if ok:
            return True
    return False


def scan(spec: Spec, mail: Mail) -> Decoded | None:
    """Records of the failed recipients in ``mail`` per ``spec`` (``None`` if none)."""
    report, original = split_body(mail.body, spec.original) if spec.original else (mail.body, "")
    records: list[Delivery] = []
    started = not spec.start
    current: Delivery | None = None
    preamble: list[str] = []
    shared: list[str] = []
    dsn = DsnFields() if spec.dsn else None
    for line in report.split("\n"):
        if shared or (spec.shared and any(m in line for m in spec.shared)):
            shared.append(line.strip())
            continue
        if not started:
            started = any(re.search(s[3:], line) if s.startswith("re:") else s in line for s in spec.start)
            if not (started and spec.include_start):
                continue
        if dsn is not None and dsn.feed(line):
            continue
        if spec.stop and any(s in line for s in spec.stop):
            break
        if not line.strip():
            if spec.blank_ends_record:
                current = None
            continue
        if (spec.skip or spec.skip_8bit) and _skip(spec, line):
            continue
        for regex in spec.recipient:
            match = regex.search(line)
            if match:
                address = clean_address(match.group("addr"))
                if not address:
                    continue
                if current is not None and current.recipient == address:
                    break
                current = Delivery(recipient=address, agent=spec.name)
                if spec.preamble and not records and preamble:
                    current.diagnostic = " ".join(preamble)
                records.append(current)
                groups = match.groupdict()
                if groups.get("diag"):
                    current.diagnostic += " " + groups["diag"]
                break
        else:
            if current is not None:
                if spec.append and (not spec.keep or line.startswith(spec.keep)):
                    current.diagnostic += " " + line.strip()
            elif spec.preamble:
                preamble.append(line.strip())
    if not records:
        for header in spec.fallback_recipient:
            for value in mail.headers.get(header, []):
                for item in value.split(","):
                    address = clean_address(item)
                    if address:
                        records.append(Delivery(recipient=address, agent=spec.name, diagnostic=" ".join(preamble)))
    if not records and spec.fallback_original_to:
        to = re.search(r"^To:\s*(.+)$", original, re.MULTILINE)
        address = clean_address(to[1]) if to else ""
        if address:
            records.append(Delivery(recipient=address, agent=spec.name, diagnostic=" ".join(preamble)))
    if not records:
        return None
    fields = {r.recipient: r for r in dsn.finish()} if dsn is not None else {}
    for record in records:
        found = fields.get(record.recipient) or (next(iter(fields.values())) if len(fields) == 1 else None)
        if found is not None:
            for name in ("status", "remote_mta", "reporting_mta", "action", "spec"):
                record.set_if_empty(name, getattr(found, name))
            if not record.diagnostic.strip():
                record.diagnostic = found.diagnostic
        for header, table in spec.header_reasons.items():
            value = mail.first(header).strip()
            if value in table:
                record.reason, record.rule = table[value], f"mta:{spec.name} {header}: {value}"
        if shared:
            record.diagnostic = " ".join(shared) + " " + record.diagnostic
        _finish(spec, record)
    return records, original


def _finish(spec: Spec, record: Delivery) -> None:
    record.diagnostic = sweep(record.diagnostic)
    for command, phrases in spec.commands.items():
        if any(p in record.diagnostic for p in phrases):
            record.command = command
            break
    record.command = record.command or spec.command or find_command(record.diagnostic)
    for regex in spec.rhost:
        match = regex.search(record.diagnostic)
        if match:
            record.remote_mta = match.group("host").strip(".").lower()
            break
    if record.command in spec.command_reasons:
        record.reason = spec.command_reasons[record.command]
        record.rule = f"mta:{spec.name} {record.command} refused"
    if spec.codes_regex is not None:
        match = spec.codes_regex.search(record.diagnostic)
        if match and match.group(1) in spec.codes:
            command, reason = spec.codes[match.group(1)]
            record.command = command or record.command
            record.reason, record.rule = reason, f"mta:{spec.name} code {match.group(1)}"


def spec_of(name: str, raw: Mapping[str, Any]) -> Spec:
    """A decoder spec from its YAML mapping (see the module docstring)."""
    groups = raw.get("detect") or []
    if isinstance(groups, Mapping):
        groups = [groups]
    detect_groups = tuple({k: tuple(str(v) for v in (vals if isinstance(vals, list) else [vals]))
                           for k, vals in g.items()} for g in groups)
    codes = raw.get("codes") or {}
    return Spec(
        name=name,
        detect=detect_groups,
        start=tuple(raw.get("start") or ()),
        original=tuple(raw.get("original") or ()),
        recipient=tuple(re.compile(r) for r in raw.get("recipient") or ()),
        stop=tuple(raw.get("stop") or ()),
        skip=tuple(raw.get("skip") or ()),
        blank_ends_record=bool(raw.get("blank_ends_record")),
        command=str(raw.get("command") or ""),
        preamble=bool(raw.get("preamble")),
        include_start=bool(raw.get("include_start")),
        rhost=tuple(re.compile(r) for r in raw.get("rhost") or ()),
        commands={str(k): tuple(v) for k, v in (raw.get("commands") or {}).items()},
        command_reasons={str(k): str(v) for k, v in (raw.get("command_reasons") or {}).items()},
        codes_regex=re.compile(codes["regex"]) if codes.get("regex") else None,
        codes={str(k): (str(v[0]), str(v[1])) for k, v in (codes.get("table") or {}).items()},
        status_overrides=bool(raw.get("status_overrides")),
        fallback_recipient=tuple(raw.get("fallback_recipient") or ()),
        append=bool(raw.get("append", True)),
        shared=tuple(raw.get("shared") or ()),
        keep=tuple(raw.get("keep") or ()),
        dsn=bool(raw.get("dsn")),
        skip_8bit=bool(raw.get("skip_8bit")),
        fallback_original_to=bool(raw.get("fallback_original_to")),
        header_reasons={str(h): {str(k): str(v) for k, v in t.items()} for h, t in (raw.get("header_reasons") or {}).items()},
    )


@lru_cache(maxsize=1)
def load_specs() -> dict[str, Spec]:
    """The text decoders shipped in ``mtas.yaml``."""
    text = resources.files("workbench").joinpath("data", "bounces", "mtas.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text) or {}
    return {name: spec_of(name, raw or {}) for name, raw in (doc.get("decoders") or {}).items()}


def mta_reason(name: str, record: Delivery, rules: RuleSet) -> None:
    """Set the reason an MTA's own words give (``mtas`` section of the rules)."""
    texts = rules.mtas.get(name)
    if texts is None or not record.diagnostic or record.reason:
        return
    found = texts.find(record.diagnostic)
    if found:
        record.reason, record.rule = found[0], f"mta:{name} {found[1]}"


def decoder(name: str, rules: RuleSet) -> Callable[[Mail, RuleSet], Decoded | None] | None:
    """The data-driven decoder called ``name``, or ``None``."""
    spec = load_specs().get(name)
    if spec is None:
        return None

    def run(mail: Mail, rules: RuleSet) -> Decoded | None:
        if not detect(spec, mail):
            return None
        found = scan(spec, mail)
        if found:
            for record in found[0]:
                mta_reason(name, record, rules)
                if spec.status_overrides and record.reason:
                    code = find_status(record.diagnostic)
                    if code and ".0" not in code and rules.status_name(code):
                        record.reason = rules.status_name(code)
                        record.rule = f"status:{code}"
        return found

    return run
