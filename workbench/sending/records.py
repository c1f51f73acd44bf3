"""A relay's record of what it accepted, by Message-ID: what a recovering sender asks.

- :class:`MaildirRecord`: the embedded sink's Maildir (or any Maildir a relay delivers into).
- :class:`PostfixLogRecord`: a Postfix log (``maillog`` or ``maillog_file``): a message is
  accepted when its queue id has both a ``cleanup`` line with its ``message-id`` and a
  ``qmgr`` line ``from=<…> (queue active)`` — a session cut during DATA logs the first but
  never the second.

:func:`record_for` picks one from ``maildir:PATH``, ``postfix-log:PATH`` or a bare path (a
folder is a Maildir, a file a Postfix log).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from workbench.errors import ConfigError
from workbench.sending.sink import header_message_id

__all__ = ["MaildirRecord", "PostfixLogRecord", "record_for"]

_CLEANUP = re.compile(r"postfix(?:-[\w.]+)?/cleanup\[\d+\]: ([0-9A-Za-z]+): message-id=(<[^>\s]*>)")
_ACTIVE = re.compile(r"postfix(?:-[\w.]+)?/qmgr\[\d+\]: ([0-9A-Za-z]+): from=<[^>]*>, .*\(queue active\)")


class PostfixLogRecord:
    """Message-IDs a Postfix instance accepted, from its log file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def message_ids(self) -> set[str]:
        """Every Message-ID whose message Postfix queued."""
        ids: dict[str, str] = {}
        active: set[str] = set()
        if not self.path.is_file():
            return set()
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if (match := _CLEANUP.search(line)) is not None:
                    ids[match[1]] = match[2]
                elif (match := _ACTIVE.search(line)) is not None:
                    active.add(match[1])
        return {mid for queue_id, mid in ids.items() if queue_id in active}

    def delivered(self, message_ids: Iterable[str]) -> set[str]:
        """Those of ``message_ids`` that Postfix queued."""
        accepted = self.message_ids()
        return {m for m in message_ids if m in accepted}

    def describe(self) -> str:
        return f"Postfix log {self.path}"


def record_for(spec: str | Path) -> MaildirRecord | PostfixLogRecord:
    """A record from ``maildir:PATH``, ``postfix-log:PATH`` or a path.

    Raises
    ------
    ConfigError
        The path does not exist.
    """
    text = str(spec)
    kind, sep, rest = text.partition(":")
    if sep and kind in ("maildir", "postfix-log"):
        return MaildirRecord(rest) if kind == "maildir" else PostfixLogRecord(rest)
    path = Path(text)
    if path.is_dir():
        return MaildirRecord(path)
    if path.is_file():
        return PostfixLogRecord(path)
    raise ConfigError(f"no relay record at {text}: give a Maildir folder or a Postfix log file")


class MaildirRecord:
    """What a Maildir holds, by Message-ID: the sink's record for reconciliation."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def message_ids(self) -> dict[str, int]:
        """Message-ID -> number of copies stored (``new/`` and ``cur/``)."""
        counts: dict[str, int] = {}
        for sub in ("new", "cur"):
            folder = self.path / sub
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                mid = _message_id_of(Path(entry.path))
                if mid:
                    counts[mid] = counts.get(mid, 0) + 1
        return counts

    def delivered(self, message_ids: Iterable[str]) -> set[str]:
        """Those of ``message_ids`` the Maildir holds."""
        held = self.message_ids()
        return {m for m in message_ids if m in held}

    def describe(self) -> str:
        return f"Maildir {self.path}"


def _message_id_of(path: Path, limit: int = 64 << 10) -> str | None:
    with open(path, "rb") as handle:
        return header_message_id(handle.read(limit), limit)
