"""Exactly once across a ``kill -9``: a sender subprocess (``workbench send``) is killed while
messages are in flight (stored by the sink, their 250 held back), then run again.

With the sink's Maildir as the record, every planned message ends up delivered exactly once
and the ledger, the events and the Maildir agree. Without a record, the messages in flight
become ``uncertain`` and are not sent again until a record (or a person) decides.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import ROOT
from tests.sending_helpers import contacts, env_without_keys
from workbench.sending import MaildirRecord, Sink
from workbench.store import Store

N = 150


def _command(store: Store, sink: Sink, contacts_file: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "workbench", "send", "news-kill", "--segment", "all", "--template", "newsletter",
            "--stream", "newsletter", "--contacts", str(contacts_file), "--relay", f"127.0.0.1:{sink.port}",
            "--config", str(contacts_file.parent / "sending.yaml"), "--db", str(store.path), "--json", *extra]


def _env(store: Store) -> dict[str, str]:
    env = env_without_keys()
    env.update(WORKBENCH_ROOT=str(ROOT), WORKBENCH_DATA=str(store.settings.data_dir), WORKBENCH_TRACKING_KEY="k",
               WORKBENCH_LOCK_TIMEOUT="60")
    return env


def _setup(store: Store, tmp_path: Path, small_world: Path) -> Path:
    people = contacts(small_world, N)
    path = tmp_path / "audience.csv"
    people.write_csv(path)
    # slow enough to be killed in the middle: 20 messages a second per provider
    (tmp_path / "sending.yaml").write_text("shaping: {default: {per_minute: 1200, connections: 3}}\n"
                                           "retries: {base_seconds: 0.05}\n", encoding="utf-8")
    store.close()
    return path


def _kill_in_flight(command: list[str], env: dict[str, str], sink: Sink, after: int = 30) -> None:
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if sink.delivered >= after and sink.pending > 0:
                os.kill(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                pytest.fail(f"the sender ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.002)
        else:
            pytest.fail("the sender never had messages in flight")
    finally:
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def _run(command: list[str], env: dict[str, str]) -> tuple[int, dict[str, object]]:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.stdout.strip(), done.stderr[-3000:]
    return done.returncode, json.loads(done.stdout)


def _check_exactly_once(store: Store, sink: Sink) -> pl.DataFrame:
    ledger = store.query("SELECT * FROM send_ledger WHERE campaign_id = 'news-kill'")
    held = MaildirRecord(sink.maildir).message_ids()
    assert len(ledger) == N
    assert set(ledger["status"]) == {"sent"}
    assert set(held) == set(ledger["message_id"])          # every planned message arrived
    assert set(held.values()) == {1}                        # and none twice
    injected = store.query("SELECT message_id FROM events WHERE campaign_id = 'news-kill' AND event_type = 'injected'")
    assert sorted(injected["message_id"]) == sorted(ledger["message_id"])  # the events agree
    return ledger


@pytest.mark.slow
def test_kill_9_then_rerun_delivers_every_message_exactly_once(send_store, tmp_path, small_world):
    with Sink(tmp_path / "sink" / "Maildir", delay=0.05) as sink:
        contacts_file = _setup(send_store, tmp_path, small_world)
        command = _command(send_store, sink, contacts_file, "--record", f"maildir:{sink.maildir}")
        env = _env(send_store)
        _kill_in_flight(command, env, sink)
        store = Store(send_store.settings)
        in_flight = store.query("SELECT message_id FROM send_ledger WHERE status = 'sending'")["message_id"].to_list()
        assert in_flight, "the kill left nothing in flight: the test proved nothing"
        stored_in_flight = MaildirRecord(sink.maildir).delivered(in_flight)
        assert stored_in_flight  # the sink holds messages whose 250 the sender never saw
        store.close()
        code, result = _run(command, env)
    assert code == 0, result
    assert result["reconciled"] >= len(stored_in_flight)
    store = Store(send_store.settings)
    ledger = _check_exactly_once(store, sink)
    reconciled = ledger.filter(pl.col("message_id").is_in(list(stored_in_flight)))
    assert all(d.startswith("reconciled: found in Maildir") for d in reconciled["detail"])
    runs = store.query("SELECT status FROM send_runs WHERE campaign_id = 'news-kill' ORDER BY started_at")
    assert runs["status"].to_list() == ["running", "finished"]  # the killed run never finished
    store.close()


@pytest.mark.slow
def test_without_a_record_in_flight_messages_stay_uncertain(send_store, tmp_path, small_world):
    with Sink(tmp_path / "sink" / "Maildir", delay=0.05) as sink:
        contacts_file = _setup(send_store, tmp_path, small_world)
        env = _env(send_store)
        _kill_in_flight(_command(send_store, sink, contacts_file), env, sink)
        before = MaildirRecord(sink.maildir).message_ids()
        code, result = _run(_command(send_store, sink, contacts_file), env)
        assert code == 3 and result["uncertain"] > 0 and result["not_sent"] == result["uncertain"]
        store = Store(send_store.settings)
        uncertain = store.query("SELECT message_id FROM send_ledger WHERE status = 'uncertain'")["message_id"].to_list()
        store.close()
        held = MaildirRecord(sink.maildir).message_ids()
        assert set(held.values()) == {1}  # nothing went twice
        assert not (set(uncertain) & (set(held) - set(before)))  # and no uncertain message went again
        # with the record, the uncertain ones are settled: those the sink has are sent, the rest go now
        code, result = _run(_command(send_store, sink, contacts_file, "--record", str(sink.maildir)), env)
        assert code == 0, result
        store = Store(send_store.settings)
        _check_exactly_once(store, sink)
        store.close()
