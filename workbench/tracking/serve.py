"""``workbench track serve``: the tracking app under uvicorn, and the spool loaded into the store.

The :class:`Ingestor` thread loads the spool into the store every ``interval`` seconds and
right after an unsubscribe (``workbench load`` of the spool folder: events, then the
suppression rules, so the contact is suppressed at once). A busy store only delays it: the
spool keeps every event, and the next pass loads what is new.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from workbench.config import Settings
from workbench.errors import StoreBusy, StoreError
from workbench.store import Store
from workbench.tracking.app import create_app
from workbench.tracking.spool import Spool
from workbench.tracking.tokens import Ref, Tokens, tracking_keys

__all__ = ["Ingestor", "ThreadedServer", "serve", "spool_dir"]

log = logging.getLogger("workbench.tracking")


def spool_dir(settings: Settings) -> Path:
    """Where the tracking app appends its events (``data/tracking/spool``)."""
    return settings.data_dir / "tracking" / "spool"


class Ingestor:
    """Loads the spool into the store in the background (see the module docstring)."""

    def __init__(self, store: Store, folder: Path, interval: float = 10.0) -> None:
        self.store, self.folder, self.interval = store, folder, interval
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.loaded = 0
        self.thread = threading.Thread(target=self._loop, name="workbench-ingest", daemon=True)

    def start(self) -> Ingestor:
        self.thread.start()
        return self

    def poke(self, ref: Ref | None = None) -> None:
        """Ingest soon (an unsubscribe came in)."""
        self.wake.set()

    def ingest(self) -> int:
        """Load the spool now; rows loaded (0 when the store was busy: tried again later)."""
        from workbench.store.loading import load_paths

        if not self.folder.is_dir():
            return 0
        try:
            summary = load_paths(self.store, [self.folder])
        except (StoreBusy, StoreError) as exc:
            log.warning("tracking spool not loaded yet (%s); it keeps every event, retrying", exc)
            return 0
        self.loaded += summary.rows_loaded
        return summary.rows_loaded

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait(self.interval)
            self.wake.clear()
            if not self.stopping.is_set():
                self.ingest()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread.is_alive():
            self.thread.join(30)


class ThreadedServer:
    """An ASGI app under uvicorn in a background thread, on a free port of ``host`` (the demo
    and the tests; ``workbench track serve`` runs uvicorn in the foreground)."""

    def __init__(self, app: Any, host: str = "127.0.0.1") -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.host, self.port = host, int(self.sock.getsockname()[1])
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True,
                                       name="workbench-tracking")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ThreadedServer:
        """Serve; returns once uvicorn is listening (or after 10 s)."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (safe to call twice)."""
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(10)
        self.sock.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8025, base_url: str | None = None,
          organisation: str = "us", interval: float = 10.0, trust_proxy: bool = False) -> None:
    """Serve the tracking app until interrupted, ingesting the spool as it goes.

    Raises
    ------
    ConfigError
        No tracking key can be found or made.
    """
    import uvicorn

    keys = tracking_keys(settings.data_dir / "keys")
    tokens = Tokens(keys, base_url or f"http://{host}:{port}")
    folder = spool_dir(settings)
    spool = Spool(folder)
    store = Store(replace(settings, lock_timeout=min(settings.lock_timeout, 5.0)))
    ingestor = Ingestor(store, folder, interval).start()
    app = create_app(tokens, spool, organisation=organisation, trust_proxy=trust_proxy, on_unsubscribe=ingestor.poke)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=trust_proxy)
    finally:
        spool.close()
        ingestor.stop()
        ingestor.ingest()
        store.close()
