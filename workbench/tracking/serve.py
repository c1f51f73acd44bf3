"""``workbench track serve``: the tracking app under uvicorn, and the spool loaded into the store.

The :class:`Ingestor` thread loads the spool into the store every ``interval`` seconds and
right after an unsubscribe (``workbench load`` of the spool folder: events, then the
suppression rules, so the contact is suppressed at once). A busy store only delays it: the
spool keeps every event, and the next pass loads what is new.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

from workbench.config import Settings
from workbench.errors import StoreBusy, StoreError
from workbench.store import Store
from workbench.tracking.app import create_app
from workbench.tracking.spool import Spool
from workbench.tracking.tokens import Ref, Tokens, tracking_keys

__all__ = ["Ingestor", "serve", "spool_dir"]

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
