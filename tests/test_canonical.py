"""Canonical rows from the simulated world (the benchmarks' fast path) agree with the loaded files."""

from __future__ import annotations

import polars as pl
from conftest import WORLD_END

from workbench.analytics import bounce_reasons, kpis
from workbench.store import Store
from workbench.synth import simulate
from workbench.synth.canonical import CANONICAL_COLUMNS, canonical_events


def test_canonical_rows_load_and_match_the_world(store: Store, world_store: Store) -> None:
    _, _, msgs, evs, _ = simulate(60_000, seed=7, end=WORLD_END)
    frame = canonical_events(evs, msgs)
    assert tuple(frame.columns) == CANONICAL_COLUMNS
    assert frame["source_key"].n_unique() == len(frame)
    with store.writer() as con:
        con.register("f", frame.to_arrow())
        con.execute("INSERT INTO events BY NAME SELECT * FROM f")
        con.unregister("f")
    store.release(force=True)
    direct = kpis(store, by="provider").select("provider", "sent", "delivered", "complaints", "human_unique_opens")
    loaded = kpis(world_store, by="provider").select("provider", "sent", "delivered", "complaints", "human_unique_opens")
    joined = direct.join(loaded, on="provider", suffix="_loaded")
    # the same world: the parsers lose nothing the direct path has (one Postfix message lacks its id)
    for col in ("sent", "delivered", "complaints"):
        assert (joined[col] - joined[f"{col}_loaded"]).abs().max() <= 1


def test_prefixes_keep_stacked_worlds_apart() -> None:
    _, _, msgs, evs, _ = simulate(5_000, seed=3, end=WORLD_END)
    a, b = canonical_events(evs, msgs, prefix="w0-"), canonical_events(evs, msgs, prefix="w1-")
    assert set(a["message_id"].drop_nulls()).isdisjoint(set(b["message_id"].drop_nulls()))
    assert pl.concat([a, b])["source_key"].n_unique() == len(a) + len(b)


def test_packaged_queries_run_on_an_empty_store(store: Store) -> None:
    assert kpis(store)["sent"].item() == 0
    assert bounce_reasons(store, "2026-01-01", "2026-01-02").is_empty()
