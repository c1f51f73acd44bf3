"""Fetching report mail from IMAP (a real Dovecot on 127.0.0.1) into the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES
from imapserver import Dovecot, dovecot_server

from workbench.dmarc.fetch import fetch_imap
from workbench.errors import InputError
from workbench.sources.mailbox import ImapFolder
from workbench.store import Store

DMARC = FIXTURES / "dmarc"
NEWSLETTER = b"From: shop@brightmart.example\r\nTo: dmarc@brightmart.example\r\nSubject: hello\r\n\r\nnot a report\r\n"


@pytest.fixture(scope="module")
def imap() -> Iterator[Dovecot]:
    with dovecot_server() as server:
        yield server


def folder(imap: Dovecot, name: str, archive: str | None = "Processed") -> ImapFolder:
    return ImapFolder(imap.host, imap.user, imap.password, port=imap.port, folder=name, archive=archive, security="plain")


def test_fetch_loads_saves_and_archives(imap: Dovecot, store: Store, tmp_path: Path) -> None:
    for name in ("several_attachments.eml", "tlsrpt_mail.eml", "failure_arf.eml"):
        imap.append("INBOX", (DMARC / name).read_bytes())
    imap.append("INBOX", NEWSLETTER)
    imap.append("INBOX", (DMARC / "failure_arf.eml").read_bytes())  # the same report mailed twice
    spool = tmp_path / "raw" / "imap"
    seen: list[tuple[int, int]] = []
    summary = fetch_imap(store, folder(imap, "INBOX"), spool, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (5, 5)
    statuses = [f.status for f in summary.files]
    assert statuses == ["loaded", "loaded", "loaded", "failed", "skipped"]
    counts = store.counts()
    assert (counts["dmarc_reports"], counts["dmarc_records"], counts["tlsrpt_reports"], counts["dmarc_failures"]) == (4, 6, 1, 1)
    # processed mail moved; the unreadable one stays for a person to look at, its reason in quarantine
    assert imap.count("INBOX") == 1 and imap.count("Processed") == 4
    assert "no DMARC or TLS report attached" in store.scalar("SELECT reason FROM quarantine")
    saved = sorted(p.name for p in (spool / "127.0.0.1" / "INBOX").iterdir())
    assert len(saved) == 5 and all(n.endswith(".eml") for n in saved)
    # fetching again: the unreadable mail is tried again (and fails again), nothing else changes
    before = store.fingerprint(["dmarc_reports", "dmarc_records", "tlsrpt_reports", "dmarc_failures", "quarantine"])
    again = fetch_imap(store, folder(imap, "INBOX"), spool)
    assert [f.status for f in again.files] == ["failed"]
    assert store.fingerprint(["dmarc_reports", "dmarc_records", "tlsrpt_reports", "dmarc_failures", "quarantine"]) == before


def test_fetch_without_archive_leaves_mail_and_is_idempotent(imap: Dovecot, store: Store, tmp_path: Path) -> None:
    imap.append("Keep", (DMARC / "tlsrpt_mail.eml").read_bytes())
    first = fetch_imap(store, folder(imap, "Keep", archive=None), tmp_path)
    second = fetch_imap(store, folder(imap, "Keep", archive=None), tmp_path)
    assert [f.status for f in first.files] == ["loaded"] and [f.status for f in second.files] == ["skipped"]
    assert imap.count("Keep") == 1 and store.counts()["tlsrpt_reports"] == 1


def test_fetch_limit(imap: Dovecot, store: Store, tmp_path: Path) -> None:
    for name in ("failure_arf.eml", "failure_text.eml"):
        imap.append("Limited", (DMARC / name).read_bytes())
    summary = fetch_imap(store, folder(imap, "Limited"), tmp_path, limit=1)
    assert len(summary.files) == 1 and imap.count("Limited") == 1


def test_fetch_from_an_unreachable_server_says_what_to_check(store: Store, tmp_path: Path) -> None:
    box = ImapFolder("127.0.0.1", "u", "p", port=1, security="plain", timeout=5)
    with pytest.raises(InputError, match="check host, port"):
        fetch_imap(store, box, tmp_path)
