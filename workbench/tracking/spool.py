"""The tracking spool: opens, clicks and unsubscribes appended to JSON-lines files.

The tracking app never waits for the store: it appends one line per event to
``<spool>/track-<YYYYMMDDHH>-<pid>.jsonl`` (flushed at once, fsynced at least every second)
in the canonical columns with an ``event_id``, so ``workbench load <spool>`` reads the files
as the ``generic`` format and a file loaded again (it grew, or was reloaded) adds only new
events. A running sender reads the unsubscribes straight from the spool
(:class:`SpoolTail`), so an unsubscribe stops the very next message even before a load.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

__all__ = ["Spool", "SpoolTail"]

FSYNC_EVERY = 1.0


class Spool:
    """Appends events to the current hour's file of this process (thread-safe)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._handle: IO[str] | None = None
        self._name: str | None = None
        self._synced = time.monotonic()

    def _file(self, now: datetime) -> IO[str]:
        name = f"track-{now:%Y%m%d%H}-{os.getpid()}.jsonl"
        if name != self._name or self._handle is None:
            self.close()
            self._handle = open(self.folder / name, "a", encoding="utf-8")  # noqa: SIM115 - kept open
            self._name = name
        return self._handle

    def append(self, event: Mapping[str, Any]) -> None:
        """Write one event (``ts`` a datetime in UTC; the rest JSON values)."""
        now = event["ts"]
        line = json.dumps({**event, "ts": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            handle = self._file(now)
            handle.write(line + "\n")
            handle.flush()
            if time.monotonic() - self._synced >= FSYNC_EVERY:
                os.fsync(handle.fileno())
                self._synced = time.monotonic()

    def close(self) -> None:
        """Sync and close the open file (safe to call twice)."""
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
            self._name = None


class SpoolTail:
    """Reads new lines of every spool file since the last call (a sender's view)."""

    def __init__(self, folder: str | Path, since: datetime | None = None) -> None:
        self.folder = Path(folder)
        self.offsets: dict[Path, int] = {}
        self.since = since or datetime(1970, 1, 1)

    def _unsubscribes(self) -> Iterator[dict[str, Any]]:
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("track-*.jsonl")):
            offset = self.offsets.get(path, 0)
            size = path.stat().st_size
            if size <= offset:
                continue
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read(size - offset)
            end = data.rfind(b"\n") + 1  # a line being written stays for the next call
            self.offsets[path] = offset + end
            for raw in data[:end].splitlines():
                if b'"unsubscribed"' not in raw:
                    continue
                try:
                    item = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(item, dict):
                    yield item

    def unsubscribed(self, list_name: str | None = None) -> set[str]:
        """Contact ids unsubscribed (from ``list_name``, or any list) in the lines read now."""
        found = set()
        for item in self._unsubscribes():
            if item.get("event_type") != "unsubscribed" or not item.get("contact_id"):
                continue
            if list_name is not None and item.get("list_name") not in (None, "", list_name):
                continue
            ts = str(item.get("ts", ""))
            try:
                when = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
            except ValueError:
                continue
            if when >= self.since:
                found.add(str(item["contact_id"]))
        return found
