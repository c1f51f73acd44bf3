"""The synthetic world's DMARC and TLS reports: consistent with the sends, seeded, and loadable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest
from conftest import WORLD_END

from workbench.store import Store
from workbench.synth import generate, simulate
from workbench.synth.dmarc import FORWARDER_IPS, SPOOF_IPS

PROVIDER_OF = {"google.com": "gmail", "Outlook.com": "microsoft", "Yahoo": "yahoo"}


@pytest.fixture
def dmarc_store(dmarc_world_store: Store) -> Store:
    return dmarc_world_store


def test_files_of_each_kind(small_world: Path) -> None:
    names = [p.name for p in (small_world / "dmarc").rglob("*") if p.is_file()]
    assert sum(n.endswith(".eml") for n in names) == 90
    assert sum(n.endswith(".xml.gz") for n in names) >= 85
    assert sum(n.endswith(".zip") for n in names) >= 85
    assert sum(n.endswith(".json") for n in names) == 90


def test_counts_match_the_messages_sent(dmarc_store: Store) -> None:
    _, _, msgs, _, start = simulate(60_000, seed=7, end=WORLD_END)
    sent = (msgs.filter(~pl.col("hard") & pl.col("provider").is_in(list(PROVIDER_OF.values())))
            .group_by("day", "provider").agg(pl.len().alias("sent")))
    reported = dmarc_store.query(
        "SELECT date_diff('day', $start, CAST(begin_ts AS DATE)) AS day, r.org_name, CAST(sum(count) AS BIGINT) AS reported "
        "FROM dmarc_records d JOIN dmarc_reports r USING (report_key) WHERE d.source_ip NOT IN (SELECT unnest($spoof)) GROUP BY ALL",
        {"start": start.date(), "spoof": list(SPOOF_IPS)},
    ).with_columns(pl.col("org_name").replace_strict(PROVIDER_OF).alias("provider"), pl.col("day").cast(pl.Int32))
    joined = sent.join(reported, on=["day", "provider"], how="full", coalesce=True)
    assert len(joined) > 250
    assert joined.filter(pl.col("sent") != pl.col("reported")).is_empty(), joined.filter(pl.col("sent") != pl.col("reported"))


def test_planted_effects(dmarc_store: Store) -> None:
    flow = dmarc_store.query("SELECT source_ip, is_ours, dmarc_pass, policy_dkim, reason_types, header_from, count, day "
                             "FROM dmarc_flow")
    spoof = flow.filter(pl.col("source_ip").is_in(list(SPOOF_IPS)))
    assert len(spoof) > 0 and not spoof["dmarc_pass"].any() and not spoof["is_ours"].any()
    forwarded = flow.filter(pl.col("source_ip").is_in(list(FORWARDER_IPS)))
    assert forwarded["count"].sum() > 0 and not forwarded["is_ours"].any()
    assert forwarded.filter(pl.col("reason_types").list.contains("forwarded")).height > 0
    ours = flow.filter(pl.col("is_ours"))
    failing = ours.filter(~pl.col("dmarc_pass"))
    assert set(failing["header_from"].unique()) == {"notify.brightmart.example"}  # SES lost DKIM for three days
    assert failing["day"].n_unique() == 3
    assert ours.filter(pl.col("header_from") != "notify.brightmart.example")["dmarc_pass"].all()


def test_tls_reports_show_the_certificate_days(dmarc_store: Store) -> None:
    failures = dmarc_store.query("SELECT result_type, receiving_mx_hostname, count(*) AS n FROM tlsrpt_failures GROUP BY ALL").rows()
    assert failures == [("certificate-expired", "mx1.brightmart.example", 2)]


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    def digest(root: Path) -> str:
        h = hashlib.sha256()
        for path in sorted((root / "dmarc").rglob("*")):
            if path.is_file():
                h.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
        return h.hexdigest()

    generate(tmp_path / "a", events=4000, seed=3, end=WORLD_END, days=20)
    generate(tmp_path / "b", events=4000, seed=3, end=WORLD_END, days=20)
    generate(tmp_path / "c", events=4000, seed=4, end=WORLD_END, days=20)
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")
