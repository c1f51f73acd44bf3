"""Fixtures and helpers shared by the sending and tracking tests.

Import the fixtures into a test module (``from tests.sending_helpers import sink, send_store``):

- ``send_store``: a fresh store holding the small world's infrastructure (pools, IPs, sending
  domains, campaigns), with the world's DKIM keys under its ``data/keys``;
- ``sink``: the embedded Maildir sink on 127.0.0.1 (a free port), stopped afterwards;
- ``world_resolver``: the world's zone (publishing the DKIM keys) as an offline resolver.
"""

from __future__ import annotations

import email
import email.policy
import os
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import ROOT
from workbench.auth.resolver import RecordsResolver
from workbench.config import Settings
from workbench.sending import SendConfig, Sink, relay_from
from workbench.store import Store

__all__ = ["contacts", "maildir_messages", "parse", "send_config", "send_store", "sink", "world_resolver"]

TRACKING_KEY = "test-tracking-key"
TRACE_KEY = b"test-trace-key"


@pytest.fixture
def send_store(tmp_path: Path, small_world: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store with the world's infrastructure and keys (see the module docstring)."""
    from workbench.auth.demo import install_world_dns
    from workbench.store.loading import load_paths

    monkeypatch.setenv("WORKBENCH_TRACKING_KEY", TRACKING_KEY)
    monkeypatch.delenv("WORKBENCH_KEYS", raising=False)
    settings = Settings.load(root=ROOT, db_path=tmp_path / "send.duckdb", data_dir=tmp_path / "data",
                             raw_dir=small_world, reports_dir=tmp_path / "reports", lock_timeout=60.0)
    store = Store(settings)
    summary = load_paths(store, [small_world / "infrastructure.yaml"])
    assert summary.rows_quarantined == 0
    install_world_dns(small_world, settings.data_dir)
    yield store
    store.close()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    """The lean sink on a free port, storing into ``tmp_path/sink/Maildir``."""
    with Sink(tmp_path / "sink" / "Maildir") as running:
        yield running


@pytest.fixture(scope="session")
def world_resolver(small_world: Path) -> RecordsResolver:
    """The small world's zone (our DKIM keys published) as an offline resolver."""
    return RecordsResolver.from_zone_files([small_world / "dns" / "brightmart.example.zone"])


def send_config(store: Store, sink: Sink, **changes: object) -> SendConfig:
    """A config sending to ``sink``, quick retries, tracking on, the demo's trace key."""
    base = SendConfig.load(store.settings, relay=relay_from(f"127.0.0.1:{sink.port}"),
                           tracking_url="https://t.brightmart.example", trace_key=TRACE_KEY, retry_base=0.05,
                           retry_wait=5.0)
    return base.with_(**changes) if changes else base


def contacts(small_world: Path, n: int | None = None, list_name: str = "newsletter") -> pl.DataFrame:
    """The world's contacts on ``list_name`` (the first ``n``)."""
    frame = pl.read_csv(small_world / "audience" / "contacts.csv")
    frame = frame.filter(pl.col("lists").fill_null("").str.contains(list_name))
    return frame.head(n) if n is not None else frame


def maildir_messages(folder: Path) -> list[bytes]:
    """Every message stored in a Maildir (new/ and cur/), oldest first."""
    files = sorted([*(folder / "new").iterdir(), *(folder / "cur").iterdir()], key=lambda p: p.name)
    return [p.read_bytes() for p in files]


def parse(data: bytes) -> email.message.EmailMessage:
    """A message parsed by the stdlib (modern policy)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def env_without_keys() -> dict[str, str]:
    """The environment for a subprocess, without inherited workbench keys."""
    return {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
