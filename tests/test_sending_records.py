"""Relay records: the sink's Maildir and a Postfix log, by Message-ID."""

from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.sending import MaildirRecord, PostfixLogRecord, record_for
from workbench.sending.sink import MaildirWriter

LOG = """\
Nov 27 10:00:01 mx postfix/smtpd[101]: 4Z1: client=localhost[127.0.0.1]
Nov 27 10:00:01 mx postfix/cleanup[102]: 4Z1: message-id=<accepted@news.brightmart.example>
Nov 27 10:00:01 mx postfix/qmgr[103]: 4Z1: from=<bounce+x@news.brightmart.example>, size=10240, nrcpt=1 (queue active)
Nov 27 10:00:02 mx postfix/cleanup[102]: 4Z2: message-id=<cut@news.brightmart.example>
Nov 27 10:00:02 mx postfix/smtpd[101]: lost connection after DATA from localhost[127.0.0.1]
2026-11-27T10:00:03.000000+00:00 mx postfix-out/cleanup[104]: 4Z3abcDEF: message-id=<long@news.brightmart.example>
2026-11-27T10:00:03.000000+00:00 mx postfix-out/qmgr[105]: 4Z3abcDEF: from=<>, size=1, nrcpt=1 (queue active)
"""


def test_postfix_log_counts_only_queued_messages(tmp_path):
    path = tmp_path / "maillog"
    path.write_text(LOG, encoding="utf-8")
    record = PostfixLogRecord(path)
    assert record.message_ids() == {"<accepted@news.brightmart.example>", "<long@news.brightmart.example>"}
    assert record.delivered(["<cut@news.brightmart.example>", "<accepted@news.brightmart.example>"]) == {
        "<accepted@news.brightmart.example>"}
    assert PostfixLogRecord(tmp_path / "none").message_ids() == set()
    assert "Postfix log" in record.describe()


def test_maildir_record_counts_copies(tmp_path):
    writer = MaildirWriter(tmp_path / "Maildir")
    writer.deliver(b"Return-Path: <x>\r\nMessage-ID: <a@x>\r\n\r\nbody\r\n")
    writer.deliver(b"Message-ID: <a@x>\r\n\r\nagain\r\n")
    writer.deliver(b"message-id:   <b@x>  \n\nunix line ends\n")
    writer.deliver(b"Subject: none\r\n\r\nMessage-ID: <in-body@x>\r\n")
    (tmp_path / "Maildir" / "new" / "moved").rename(tmp_path / "Maildir" / "cur" / "moved") if False else None
    record = MaildirRecord(tmp_path / "Maildir")
    assert record.message_ids() == {"<a@x>": 2, "<b@x>": 1}
    assert record.delivered(["<a@x>", "<c@x>"]) == {"<a@x>"}


def test_record_for_picks_by_prefix_or_path(tmp_path):
    (tmp_path / "Maildir").mkdir()
    (tmp_path / "log").write_text("", encoding="utf-8")
    assert isinstance(record_for(tmp_path / "Maildir"), MaildirRecord)
    assert isinstance(record_for(tmp_path / "log"), PostfixLogRecord)
    assert isinstance(record_for(f"maildir:{tmp_path}/x"), MaildirRecord)
    assert isinstance(record_for(f"postfix-log:{tmp_path}/y"), PostfixLogRecord)
    with pytest.raises(ConfigError):
        record_for(tmp_path / "nothing")
