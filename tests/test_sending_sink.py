"""The embedded sink, spoken to with raw sockets: pipelining, dot-stuffing, limits, sessions,
held replies, and a clean stop."""

from __future__ import annotations

import json
import socket
import time

from tests.sending_helpers import maildir_messages
from workbench.sending import Sink


def _talk(port: int, payload: bytes, expect: int) -> list[bytes]:
    """Send ``payload`` at once, read until ``expect`` reply lines (after the greeting) came."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        data = b""
        while b"\r\n" not in data:
            data += conn.recv(4096)
        conn.sendall(payload)
        replies = b""
        while replies.count(b"\r\n") < expect:
            chunk = conn.recv(65536)
            if not chunk:
                break
            replies += chunk
    return [line for line in replies.split(b"\r\n") if line]


def test_a_pipelined_session_in_one_write(sink):
    payload = (b"EHLO client.example\r\nMAIL FROM:<a@b.example> SIZE=100\r\nRCPT TO:<c@d.example>\r\n"
               b"RCPT TO:<e@f.example>\r\nDATA\r\nSubject: x\r\nMessage-ID: <p1@x>\r\n\r\n..dot\r\nend\r\n.\r\n"
               b"MAIL FROM:<>\r\nRCPT TO:<g@h.example>\r\nDATA\r\nMessage-ID: <p2@x>\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    replies = _talk(sink.port, payload, 16)
    assert replies[0] == b"250-sink" and b"250-PIPELINING" in replies
    codes = [r[:3] for r in replies if not r.startswith(b"250-")]
    assert codes == [b"250", b"250", b"250", b"250", b"354", b"250", b"250", b"250", b"354", b"250", b"221"]
    stored = maildir_messages(sink.maildir)
    assert len(stored) == 3  # two recipients, then one
    assert stored[0].endswith(b"\r\n\r\n.dot\r\nend\r\n") and b"Delivered-To: c@d.example" in stored[0]
    assert b"Return-Path: <>" in stored[2]
    assert sink.delivered == 3


def test_protocol_errors(sink):
    replies = _talk(sink.port, b"HELO x\r\nRCPT TO:<a@b>\r\nMAIL FROM:<a@b>\r\nDATA\r\nVRFY a\r\nRSET\r\nNOOP\r\nQUIT\r\n", 8)
    assert [r[:3] for r in replies] == [b"250", b"503", b"250", b"554", b"502", b"250", b"250", b"221"]
    long_line = _talk(sink.port, b"MAIL FROM:<" + b"a" * 5000, 1)
    assert long_line[0].startswith(b"500")


def test_sessions_are_logged(sink):
    _talk(sink.port, b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@gmail.com>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n", 10)
    time.sleep(0.05)
    (session,) = [json.loads(line) for line in sink.sessions_log.read_text().splitlines()]
    assert session["peer"] == "127.0.0.1" and session["messages"] == 1 and session["domains"] == ["gmail.com"]
    assert session["ended"] >= session["started"]


def test_held_replies_count_as_pending(tmp_path):
    with Sink(tmp_path / "Maildir", delay=0.3) as slow:
        with socket.create_connection(("127.0.0.1", slow.port), timeout=10) as conn:
            conn.recv(100)
            conn.sendall(b"HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nMessage-ID: <h@x>\r\n\r\nx\r\n.\r\nNOOP\r\n")
            deadline = time.monotonic() + 5
            while slow.pending == 0 and time.monotonic() < deadline:
                time.sleep(0.005)
            assert slow.pending == 1 and len(maildir_messages(slow.maildir)) == 1  # stored, not yet answered
            replies = b""
            while replies.count(b"\r\n") < 6:
                replies += conn.recv(4096)
        assert replies.split(b"\r\n")[4].startswith(b"250 2.0.0 OK") and slow.pending == 0


def test_stop_closes_open_sessions(tmp_path):
    running = Sink(tmp_path / "Maildir").start()
    conn = socket.create_connection(("127.0.0.1", running.port), timeout=5)
    conn.recv(100)
    running.stop()
    assert conn.recv(100) == b""  # the sink closed it
    conn.close()
    running.stop()  # twice is fine


def test_the_port_must_be_free(tmp_path):
    import pytest

    with Sink(tmp_path / "a") as first, pytest.raises(OSError):
        Sink(tmp_path / "b", port=first.port).start()
