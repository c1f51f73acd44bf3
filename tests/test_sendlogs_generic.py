from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from sendlogs_helpers import FIXTURES, parse, rows

from workbench.errors import ParseError
from workbench.sources import sqlparse
from workbench.sources.sendlogs import generic
from workbench.sources.sendlogs.base import ParseOptions


def test_sniff_canonical_csv_and_jsonl() -> None:
    assert generic.sniff((FIXTURES / "generic" / "canonical.csv").read_text())
    assert generic.sniff((FIXTURES / "generic" / "canonical.jsonl").read_text())
    assert not generic.sniff((FIXTURES / "generic" / "mapped.csv").read_text())


def test_canonical_csv() -> None:
    events, rejects = parse(generic, FIXTURES / "generic" / "canonical.csv")
    assert rows(events, "event_type", "is_machine", "recipient_domain") == [("opened", True, "gmail.com"), ("clicked", False, "gmail.com")]
    assert [r.position for r in rejects] == ["line 4"]


def test_mapped_csv_with_event_map_and_time_format() -> None:
    events, rejects = parse(
        generic, FIXTURES / "generic" / "mapped.csv",
        mapping={"ts": "When", "event_type": "Status", "recipient": "Email", "campaign_id": "Campaign", "message_id": "Msg", "url": "Link"},
        event_map={"sent": "injected", "open": "opened", "click": "clicked"},
        ts_format="%d/%m/%Y %H:%M:%S",
    )
    assert rows(events, "event_type", "recipient") == [
        ("injected", "pat@gmail.com"), ("delivered", "pat@gmail.com"), ("opened", "pat@gmail.com"), ("clicked", "pat@gmail.com"),
    ]
    assert events["ts"][0] == datetime(2026, 11, 27, 10, 0)
    assert events["url"][3] == "https://shop.example/spring"
    assert [r.position for r in rejects] == ["line 6"]


def test_unmapped_file_says_how_to_map_it() -> None:
    with pytest.raises(ParseError, match="--map ts="):
        parse(generic, FIXTURES / "generic" / "mapped.csv")


def test_canonical_jsonl_with_event_ids() -> None:
    events, rejects = parse(generic, FIXTURES / "generic" / "canonical.jsonl")
    assert events["key"].to_list() == ["id:t-1", "id:t-2", "id:t-2"]
    assert [r.position for r in rejects] == ["line 4"]


def test_parquet_batches(tmp_path: Path) -> None:
    frame = pl.DataFrame({
        "ts": [datetime(2026, 11, 27, 1), datetime(2026, 11, 27, 2)],
        "event_type": ["delivered", "bounced"],
        "recipient": ["a@gmail.com", "b@yahoo.com"],
        "smtp_code": [250, 550],
    })
    records = frame.with_columns(_line_no=pl.int_range(1, 3, dtype=pl.Int64), _line=pl.lit(None, pl.Utf8))
    parsed = sqlparse.run(generic, records, ParseOptions(), generic.parquet_head(frame.to_arrow().schema), unit="row")
    assert rows(parsed.events, "event_type", "recipient_domain", "smtp_code") == [("delivered", "gmail.com", 250), ("bounced", "yahoo.com", 550)]
    assert parsed.events["key"].n_unique() == 2
