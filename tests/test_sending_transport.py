"""SMTP transport against real servers on 127.0.0.1: the lean sink (pipelining), the aiosmtpd
engine (STARTTLS, AUTH, no pipelining), and a server that drops the connection mid-way."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.sending_helpers import maildir_messages
from workbench.sending import MaildirRecord, RecordingTransport, Relay, Reply, Sink, SmtpTransport

MESSAGE = (b"From: news@news.brightmart.example\r\nTo: ana@example.com\r\nSubject: hi\r\n"
           b"Message-ID: <t1@news.brightmart.example>\r\n\r\n.first line starts with a dot\r\nbody\r\n..two dots\r\n")


def _send(relay: Relay, source: str | None, pairs: list[tuple[str, bytes]]) -> list[Reply]:
    async def go() -> list[Reply]:
        connection = await SmtpTransport(relay).connect(source)
        try:
            return [await connection.send("bounce@news.brightmart.example", rcpt, data) for rcpt, data in pairs]
        finally:
            await connection.close()

    return asyncio.run(go())


def test_pipelined_sends_are_stored_with_the_envelope_and_peer(sink):
    replies = _send(Relay(port=sink.port, helo="mta1.brightmart.example"), "127.0.0.3",
                    [("ana@example.com", MESSAGE), ("bob@example.com", MESSAGE.replace(b"<t1@", b"<t2@"))])
    assert [r.ok for r in replies] == [True, True] and replies[0].code == 250
    stored = maildir_messages(sink.maildir)
    assert len(stored) == 2
    head, _, _body = stored[0].partition(b"Message-ID:")
    assert b"Return-Path: <bounce@news.brightmart.example>" in head and b"Delivered-To: ana@example.com" in head
    assert b"from mta1.brightmart.example (127.0.0.3)" in head
    assert stored[0].endswith(b".first line starts with a dot\r\nbody\r\n..two dots\r\n")  # dots unstuffed exactly
    assert MaildirRecord(sink.maildir).message_ids() == {"<t1@news.brightmart.example>": 1,
                                                         "<t2@news.brightmart.example>": 1}


def test_refusals_and_deferrals_come_back_as_replies(tmp_path):
    replies = {"gone@example.com": (550, "5.1.1 User unknown"), "busy@example.com": (451, "4.7.1 Try later")}
    with Sink(tmp_path / "Maildir", replies=replies) as strict:
        out = _send(Relay(port=strict.port), None, [("gone@example.com", MESSAGE), ("busy@example.com", MESSAGE),
                                                    ("ana@example.com", MESSAGE)])
    assert (out[0].code, out[0].stage, out[0].permanent) == (550, "rcpt", True)
    assert (out[1].code, out[1].temporary) == (451, True)
    assert out[2].ok  # the session recovered with RSET
    assert len(maildir_messages(tmp_path / "Maildir")) == 1


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sink.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_starttls_and_auth_with_aiosmtpd(tmp_path, monkeypatch):
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with Sink(tmp_path / "Maildir", tls_context=context, auth={"relay-user": "s3cret"}) as secure:
        assert secure.engine == "aiosmtpd"
        monkeypatch.setenv("WORKBENCH_RELAY_PASSWORD", "s3cret")
        relay = Relay(port=secure.port, starttls=True, username="relay-user", cafile=str(cert))
        out = _send(relay, None, [("ana@example.com", MESSAGE)] * 3)
        assert [r.ok for r in out] == [True] * 3  # aiosmtpd offers no PIPELINING: one command at a time
        monkeypatch.setenv("WORKBENCH_RELAY_PASSWORD", "wrong")
        with pytest.raises(ConnectionError, match=r"relay 127.0.0.1"):
            _send(relay, None, [("ana@example.com", MESSAGE)])
        with pytest.raises(ConnectionError):  # an unknown certificate is refused
            _send(Relay(port=secure.port, starttls=True, username="relay-user"), None, [])
    assert len(maildir_messages(tmp_path / "Maildir")) == 3


def test_auth_without_tls_is_not_offered(tmp_path):
    with Sink(tmp_path / "Maildir", engine="aiosmtpd", auth={"u": "p"}) as plain, pytest.raises(ConnectionError):
        _send(Relay(port=plain.port, starttls=False, username="u", password="p"), None, [])


class _Dropper(asyncio.Protocol):
    """Answers the envelope, then closes the connection when the message has arrived
    (``after_data``) or as soon as DATA is asked (before the message)."""

    def __init__(self, after_data: bool) -> None:
        self.after_data = after_data
        self.buffer = b""
        self.in_data = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(b"220 dropper\r\n")  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n" in self.buffer:
            if self.in_data:
                if b"\r\n.\r\n" in self.buffer:
                    self.transport.close()
                return
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.transport.write(b"250-dropper\r\n250 PIPELINING\r\n")  # type: ignore[attr-defined]
            elif verb == b"DATA":
                if not self.after_data:
                    self.transport.close()
                    return
                self.in_data = True
                self.transport.write(b"354 go\r\n")  # type: ignore[attr-defined]
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")  # type: ignore[attr-defined]
            else:
                self.transport.write(b"250 ok\r\n")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("after_data", "stage"), [(True, "lost"), (False, "connect")])
def test_a_lost_connection_is_uncertain_only_after_the_message_was_written(after_data, stage):
    async def go() -> Reply:
        server = await asyncio.get_running_loop().create_server(lambda: _Dropper(after_data), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            connection = await SmtpTransport(Relay(port=port)).connect(None)
            reply = await connection.send("a@b.example", "c@d.example", MESSAGE)
            again = await connection.send("a@b.example", "c@d.example", MESSAGE)
            await connection.close()
            assert again.stage == "connect" and again.code == 0
            return reply
        finally:
            server.close()
            await server.wait_closed()

    reply = asyncio.run(go())
    assert reply.stage == stage and reply.code == 0
    assert reply.uncertain is after_data and reply.temporary is (not after_data)


def test_a_relay_that_is_not_there():
    with pytest.raises(ConnectionError, match=r"127.0.0.1:9"):
        _send(Relay(port=9, timeout=2), None, [])


def test_recording_transport_keeps_what_it_sends():
    transport = RecordingTransport(reply=lambda r: Reply(550, "no", "rcpt") if r.startswith("x") else Reply(250, "ok", "sent"))

    async def go() -> list[Reply]:
        connection = await transport.connect("127.0.0.9")
        out = [await connection.send("s@a.example", r, b"m") for r in ("a@b.example", "x@b.example")]
        await connection.close()
        return out

    out = asyncio.run(go())
    assert [r.code for r in out] == [250, 550]
    assert transport.sent == [("127.0.0.9", "s@a.example", "a@b.example", b"m")]
    assert (transport.connections, transport.open_now, transport.max_open) == (1, 0, 1)
