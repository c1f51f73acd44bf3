"""The shared mail readers: parts in every encoding, mbox, Maildir, and IMAP on a real Dovecot."""

from __future__ import annotations

import base64
import gzip
import mailbox as std_mailbox
import quopri
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES
from imapserver import Dovecot, dovecot_server

from workbench.errors import InputError, UnsafeInput
from workbench.sources import mailbox
from workbench.sources.mailbox import (
    ImapFolder,
    is_maildir,
    is_mbox,
    iter_maildir,
    iter_mbox,
    iter_parts,
    looks_like_message,
    parse_message,
)

DMARC = FIXTURES / "dmarc"


@pytest.fixture(scope="module")
def imap() -> Iterator[Dovecot]:
    with dovecot_server() as server:
        yield server


def test_looks_like_message_and_mbox() -> None:
    eml = (DMARC / "failure_arf.eml").read_bytes()
    assert looks_like_message(eml[:4096])
    assert looks_like_message(b"From someone@x Thu Nov 26 12:00:00 2026\n" + eml[:4096])
    assert is_mbox((DMARC / "reports.mbox").read_bytes()[:4096])
    assert not is_mbox(eml)
    assert not looks_like_message(b"type,timeLogged,orig\nd,2026-01-01,a@b\n")
    assert not looks_like_message(b'{"ts": 1}\n')
    assert not looks_like_message(b"<?xml version='1.0'?><feedback/>")


def test_every_attachment_decoded_whatever_its_encoding() -> None:
    msg = parse_message((DMARC / "several_attachments.eml").read_bytes())
    parts = list(iter_parts(msg))
    assert [(p.content_type, p.filename) for p in parts] == [
        ("text/plain", None), ("text/html", None),
        ("application/zip", "receiver.example!brightmart.example!1764201600!1764287999.zip"),
        ("application/gzip", "bis.example!brightmart.example!1764201600!1764287999.xml.gz"),
        ("text/xml", "qp.xml"), ("application/octet-stream", "draft.xml"),
    ]
    assert parts[0].text.startswith("Four reports attached – zip")  # quoted-printable UTF-8
    assert parts[2].payload.startswith(b"PK\x03\x04")  # base64
    assert gzip.decompress(parts[3].payload) == (DMARC / "rfc9990.xml").read_bytes()
    assert parts[4].payload.rstrip() == (DMARC / "qp.xml").read_bytes().rstrip()  # quoted-printable, non-ASCII inside
    assert parts[5].payload.rstrip() == (DMARC / "draft.xml").read_bytes().rstrip()  # 8bit


def test_message_parts_are_leaves_and_bounded() -> None:
    inner = b"From: x@y.example\nSubject: inner\n\nbody\n"
    raw = (b"From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
           b"--b\nContent-Type: message/rfc822\n\n" + inner + b"\n--b\nContent-Type: text/plain\n\nhi\n--b--\n")
    parts = list(iter_parts(parse_message(raw)))
    assert [p.content_type for p in parts] == ["message/rfc822", "text/plain"]
    assert b"Subject: inner" in parts[0].payload
    many = b"From: a@b.example\nContent-Type: multipart/mixed; boundary=b\n\n" + b"".join(
        b"--b\nContent-Type: text/plain\n\nx\n" for _ in range(5)) + b"--b--\n"
    with pytest.raises(UnsafeInput, match="more than 3 MIME parts"):
        list(iter_parts(parse_message(many), max_parts=3))
    big = b"From: a@b.example\nContent-Transfer-Encoding: base64\n\n" + base64.encodebytes(b"x" * 5000)
    with pytest.raises(UnsafeInput, match="at most 100"):
        list(iter_parts(parse_message(big), max_bytes=100))


def test_single_part_base64_body_is_a_part() -> None:
    payload = gzip.compress(b"<feedback/>")
    raw = (b"From: a@b.example\nContent-Type: application/gzip\nContent-Transfer-Encoding: base64\n\n"
           + base64.encodebytes(payload) + b"\r\n")
    (part,) = list(iter_parts(parse_message(raw)))
    assert part.content_type == "application/gzip" and gzip.decompress(part.payload) == b"<feedback/>"


def test_quoted_printable_message_part() -> None:
    body = quopri.encodestring("Feedback-Type: auth-failure\nSource-IP: 192.0.2.1\nNote: caf\u00e9\n".encode())
    raw = (b"From: a@b.example\nContent-Type: multipart/report; boundary=b\n\n--b\nContent-Type: message/feedback-report\n"
           b"Content-Transfer-Encoding: quoted-printable\n\n" + body + b"\n--b--\n")
    (part,) = list(iter_parts(parse_message(raw)))
    assert "café".encode() in part.payload and b"Source-IP: 192.0.2.1" in part.payload


def test_oversized_message_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox, "MAX_MESSAGE", 100)
    with pytest.raises(UnsafeInput, match="at most 100"):
        parse_message(b"From: a@b\n\n" + b"x" * 200)


def test_mbox_in_order_with_positions() -> None:
    items = list(iter_mbox(DMARC / "reports.mbox"))
    assert [i.position.rsplit("#", 1)[1] for i in items] == ["1", "2", "3"]
    subjects = [parse_message(i.data)["Subject"] for i in items]
    assert subjects == ["DMARC Failure Report for brightmart.example", "Your weekly newsletter",
                        "DMARC Forensic Report for brightmart.example from IP 198.51.100.199"]


def make_maildir(path: Path, messages: list[bytes]) -> Path:
    box = std_mailbox.Maildir(str(path), create=True)
    for data in messages:
        box.add(data)
    box.close()
    return path


def test_maildir(tmp_path: Path) -> None:
    messages = [(DMARC / n).read_bytes() for n in ("failure_arf.eml", "tlsrpt_mail.eml")]
    folder = make_maildir(tmp_path / "Maildir", messages)
    assert is_maildir(folder) and not is_maildir(tmp_path)
    items = list(iter_maildir(folder))
    assert sorted(i.data for i in items) == sorted(messages)
    assert all(i.uid and i.position.startswith(str(folder)) for i in items)
    with pytest.raises(InputError, match="not a Maildir"):
        list(iter_maildir(tmp_path / "nothing"))


def test_imap_fetch_and_archive_on_dovecot(imap: Dovecot) -> None:
    messages = [(DMARC / n).read_bytes() for n in ("failure_arf.eml", "tlsrpt_mail.eml", "several_attachments.eml")]
    for data in messages:
        imap.append("Reports", data)
    box = ImapFolder(imap.host, imap.user, imap.password, port=imap.port, folder="Reports", archive="Reports/Done", security="plain")
    with box:
        uids = box.uids()
        assert len(uids) == 3
        fetched = [box.fetch(uid) for uid in uids]
        assert [f.data.replace(b"\r\n", b"\n") for f in fetched] == [m.replace(b"\r\n", b"\n") for m in messages]
        assert fetched[0].position == f"imap://{imap.user}@{imap.host}:{imap.port}/Reports;UID={uids[0]}"
        box.archive(uids[0])
        assert box.uids() == uids[1:]
    assert imap.count("Reports") == 2 and imap.count("Reports/Done") == 1
    again = ImapFolder(imap.host, imap.user, imap.password, port=imap.port, folder="Reports", security="plain")
    with again:
        assert len(list(again)) == 2
        again.archive(again.uids()[0])  # no archive folder: a no-op
    assert imap.count("Reports") == 2
    box.close()  # closing twice is safe


def test_imap_errors_name_what_to_check(imap: Dovecot) -> None:
    with pytest.raises(InputError, match="cannot select folder"):
        ImapFolder(imap.host, imap.user, imap.password, port=imap.port, folder="Nope", security="plain").open()
    with pytest.raises(InputError, match="check host, port"):
        ImapFolder(imap.host, imap.user, "wrong", port=imap.port, security="plain").open()
    with pytest.raises(InputError, match="check host, port"):
        ImapFolder("127.0.0.1", "u", "p", port=1, security="plain", timeout=5).open()


def test_imap_move_without_the_move_extension(imap: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    imap.append("Legacy", (DMARC / "failure_text.eml").read_bytes())
    box = ImapFolder(imap.host, imap.user, imap.password, port=imap.port, folder="Legacy", archive="Legacy-Done", security="plain")
    with box:
        assert box._imap is not None
        box._imap.capabilities = tuple(c for c in box._imap.capabilities if c != "MOVE")
        box.archive(box.uids()[0])
        assert box.uids() == []
    assert imap.count("Legacy-Done") == 1
