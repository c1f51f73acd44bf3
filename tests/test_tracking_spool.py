"""The spool: JSON lines in the canonical columns, read back by a sender's tail and by the
generic loader."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from workbench.sources import registry
from workbench.tracking.spool import Spool, SpoolTail

T0 = datetime(2026, 11, 27, 10, 0, 0)


def _event(kind: str, contact: str, minutes: int = 0, list_name: str | None = "newsletter") -> dict[str, object]:
    return {"ts": T0 + timedelta(minutes=minutes), "event_type": kind, "event_id": f"{kind}-{contact}-{minutes}",
            "contact_id": contact, "campaign_id": "news-1", "list_name": list_name}


def test_lines_are_canonical_and_sniffed_as_generic(tmp_path):
    spool = Spool(tmp_path)
    spool.append(_event("opened", "C1"))
    spool.append(_event("clicked", "C1", 70))  # another hour: another file
    spool.close()
    files = sorted(tmp_path.glob("track-*.jsonl"))
    assert len(files) == 2 and files[0].name.startswith("track-2026112710-")
    first = json.loads(files[0].read_text().splitlines()[0])
    assert list(first)[:2] == ["ts", "event_type"] and first["ts"] == "2026-11-27T10:00:00.000000Z"
    assert registry.detect(files[0], files[0].read_bytes()[:4096]).name == "generic"
    spool.close()  # twice is fine


def test_tail_reads_unsubscribes_once_and_only_whole_lines(tmp_path):
    spool = Spool(tmp_path)
    tail = SpoolTail(tmp_path)
    assert tail.unsubscribed() == set()
    spool.append(_event("opened", "C1"))
    spool.append(_event("unsubscribed", "C2"))
    spool.append(_event("unsubscribed", "C3", list_name="promotions"))
    spool.append(_event("unsubscribed", "C4", list_name=None))
    assert tail.unsubscribed("newsletter") == {"C2", "C4"}
    assert tail.unsubscribed("newsletter") == set()  # already read
    path = next(tmp_path.glob("track-*.jsonl"))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"ts":"2026-11-27T10:05:00Z","event_type":"unsubscribed","contact_id":"C5"')  # being written
    assert tail.unsubscribed() == set()
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("}\nnot json unsubscribed\n")
    assert tail.unsubscribed() == {"C5"}
    spool.close()


def test_tail_ignores_what_came_before_it_was_asked_to(tmp_path):
    spool = Spool(tmp_path)
    spool.append(_event("unsubscribed", "C1", 0))
    spool.append(_event("unsubscribed", "C2", 30))
    spool.close()
    assert SpoolTail(tmp_path, since=T0 + timedelta(minutes=10)).unsubscribed() == {"C2"}
    assert SpoolTail(tmp_path / "missing").unsubscribed() == set()
