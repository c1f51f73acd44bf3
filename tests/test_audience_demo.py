"""The demo's audience step on the small world, and the segment notebooks' figures."""

from __future__ import annotations

import io
import shutil
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console

from workbench.analytics import segment_report as sr
from workbench.audience import segments
from workbench.audience.compile import load_definition
from workbench.audience.demo import EXAMPLES, audience_step, example_definitions
from workbench.config import Settings
from workbench.store import Store


def test_example_rules_are_valid() -> None:
    names = [load_definition(p).name for p in example_definitions()]
    assert names == list(EXAMPLES)
    assert load_definition(example_definitions()[2]).list_name == "newsletter"


def test_audience_step(world_store: Store, small_world: Path, tmp_path: Path) -> None:
    world_store.release(force=True)
    db = tmp_path / "demo.duckdb"
    shutil.copyfile(world_store.path, db)
    store = Store(Settings.load(db_path=db, lock_timeout=60.0))
    buffer = io.StringIO()
    sizes = audience_step(store, small_world, Console(file=buffer, width=200))
    printed = buffer.getvalue()
    contacts = store.scalar("SELECT count(*) FROM contacts")
    assert f"contacts: {contacts:,} in the store ({contacts:,} new, 0 changed, 0 rejected" in printed
    assert set(sizes) == set(EXAMPLES) and sizes["paris_25_34"] + sizes["others"] <= contacts
    assert "tiers: active_30" in printed and "sunset:" in printed
    runs = segments.runs(store, "paris_25_34")
    assert len(runs) >= 13  # weekly over 90 days, and the end
    # a second run changes nothing
    again = audience_step(store, small_world, Console(file=io.StringIO()))
    assert again == sizes and len(segments.runs(store, "paris_25_34")) == len(runs)


def test_figures_check_their_frames() -> None:
    runs = pl.DataFrame({"as_of": [datetime(2026, 1, 1), datetime(2026, 1, 8)], "size": [10, 12], "joined": [10, 3],
                         "left": [0, 1]})
    fig = sr.size_chart(runs)
    assert fig.data[1].y == (None, 3) and fig.data[2].y == (0, -1)
    comp = pl.DataFrame({"value": ["FR", "DE"], "share": [0.75, 0.25], "base_share": [0.5, 0.5]})
    assert [t.x for t in sr.composition_chart(comp, "country").data] == [(75.0, 25.0), (50.0, 50.0)]
    counts = pl.DataFrame({"group": ["a", "b"], "successes": [1, 2], "trials": [10, 10], "rate": [0.1, 0.2],
                           "rate_lo": [0.02, 0.06], "rate_hi": [0.4, 0.5]})
    bar = sr.experiment_chart(counts, "human_click_rate").data[0]
    assert bar.y == (10.0, 20.0) and bar.error_y.array == pytest.approx((30.0, 30.0))
    with pytest.raises(ValueError, match="not a runs frame"):
        sr.size_chart(comp)
    with pytest.raises(ValueError, match="not an experiment"):
        sr.experiment_chart(comp, "open_rate")
    with pytest.raises(ValueError, match="not a composition"):
        sr.composition_chart(runs, "x")
