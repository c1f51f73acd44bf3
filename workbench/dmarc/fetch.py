"""Fetching report mail from an IMAP folder into the store.

Every message is first saved as received under ``<raw>/imap/<host>/<folder>/`` (named by
UID and content hash), so that rebuilding the store from ``data/raw`` gives the same
numbers, then loaded like any ``.eml`` (one transaction per message; the same message
twice loads once). A message that loaded (or was already loaded) is moved to the archive
folder when one is given; one that could not be read stays where it is, with its reason in
``quarantine``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from workbench.sources.mailbox import ImapFolder
from workbench.store import Store
from workbench.store.loading import LoadSummary, finish_loads, load_file

__all__ = ["fetch_imap"]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", name).strip("._") or "_"


def fetch_imap(
    store: Store,
    folder: ImapFolder,
    spool: Path,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadSummary:
    """Fetch, save, load and (optionally) archive every message of ``folder``.

    Parameters
    ----------
    store:
        Where to load.
    folder:
        The IMAP folder (its ``archive`` folder, if set, receives processed messages).
    spool:
        Where messages are saved as received (``<raw>/imap`` by default in the CLI).
    limit:
        Process at most this many messages (oldest first).
    progress:
        ``progress(done, total)`` after each message.

    Raises
    ------
    InputError
        The server could not be reached, or refused the login, the folder or a move.
    StoreError
        The store failed.
    """
    summary = LoadSummary()
    target = spool / _safe(folder.host) / _safe(folder.folder)
    target.mkdir(parents=True, exist_ok=True)
    with folder:
        uids = folder.uids()[: limit or None]
        for done, uid in enumerate(uids, start=1):
            item = folder.fetch(uid)
            digest = hashlib.sha256(item.data).hexdigest()
            path = target / f"{int(uid):08d}-{digest[:12]}.eml"
            if not path.exists():
                path.write_bytes(item.data)
            result = load_file(store, path, format="report-mail")
            summary.files.append(result)
            store.release()
            if result.status in ("loaded", "skipped"):
                folder.archive(uid)
            if progress:
                progress(done, len(uids))
    finish_loads(store)
    store.release(force=True)
    return summary
