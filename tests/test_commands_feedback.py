"""``workbench classify``, ``workbench suppression ...`` and ``workbench mailbox fetch``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import FIXTURES
from imapserver import Dovecot, dovecot_server

from workbench.cli import cli

BOUNCES = FIXTURES / "bounces"
FIELDS = ["file", "recipient", "reason", "hard", "status", "reply_code", "diagnostic", "feedback_type", "rule"]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    # a wide terminal, so that tables do not wrap the values the tests look for
    return CliRunner().invoke(cli, list(args), obj={}, env={"COLUMNS": "250", **(env or {})}, catch_exceptions=False)


def jsonl(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


# --- classify --------------------------------------------------------------------------------------

def test_classify_jsonl_prints_exactly_the_fields() -> None:
    path = str(BOUNCES / "postfix-two-recipients.eml")
    result = invoke("classify", path, "--jsonl")
    assert result.exit_code == 0
    rows = jsonl(result)
    assert [list(r) for r in rows] == [FIELDS, FIELDS]
    assert [(r["file"], r["recipient"], r["reason"], r["hard"]) for r in rows] == [
        (path, "first@example.com", "userunknown", True), (path, "second@example.com", "mailboxfull", False)]
    assert rows[0]["status"] == "5.1.1" and rows[0]["reply_code"] == 550 and rows[0]["rule"] == "status:5.1.1"
    assert "User unknown in local recipient table" in str(rows[0]["diagnostic"])


def test_classify_a_file_that_is_neither() -> None:
    path = str(BOUNCES / "not-a-bounce.eml")
    (row,) = jsonl(invoke("classify", path, "--jsonl"))
    assert row == {name: (path if name == "file" else None) for name in FIELDS}


def test_classify_complaints_and_autoreplies() -> None:
    rows = jsonl(invoke("classify", str(BOUNCES / "jmrp-outlook.eml"), str(BOUNCES / "autoreply-vacation.eml"), "--jsonl"))
    assert [(r["reason"], r["hard"], r["feedback_type"]) for r in rows] == [("feedback", False, "abuse"),
                                                                             ("vacation", False, None)]


def test_classify_walks_folders_and_mboxes(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    for name in ("qmail-userunknown.eml", "exim-hostunknown.eml"):
        shutil.copy(BOUNCES / name, folder / name)
    box = tmp_path / "fbl.mbox"
    box.write_bytes(b"".join(b"From x@y Thu Nov  5 10:00:00 2026\n" + (BOUNCES / n).read_bytes() + b"\n"
                             for n in ("arf-abuse.eml", "apple-unsubscribe.eml")))
    rows = jsonl(invoke("classify", str(folder), str(box), "--jsonl"))
    assert [(Path(str(r["file"])).name, r["reason"]) for r in rows] == [
        ("exim-hostunknown.eml", "hostunknown"), ("qmail-userunknown.eml", "userunknown"),
        ("fbl.mbox", "feedback"), ("fbl.mbox", "feedback")]


def test_classify_table_output_and_user_rules(tmp_path: Path) -> None:
    table = invoke("classify", str(BOUNCES / "german-userunknown.eml"))
    assert table.exit_code == 0 and "userunknown" in table.stdout and "{" not in table.stdout
    rules = tmp_path / "rules.yaml"
    rules.write_text('reasons:\n  suspend:\n    phrases: ["ihre nachricht konnte nicht zugestellt werden"]\n')
    # a user phrase does not override the packaged decision order, but it is used
    (row,) = jsonl(invoke("classify", str(BOUNCES / "german-userunknown.eml"), "--rules", str(rules), "--jsonl"))
    assert row["reason"] in ("userunknown", "suspend") and row["rule"]


def test_classify_with_a_bad_rules_file_says_so(tmp_path: Path) -> None:
    rules = tmp_path / "bad.yaml"
    rules.write_text("- not a mapping\n")
    result = invoke("classify", str(BOUNCES / "qmail-userunknown.eml"), "--rules", str(rules))
    assert result.exit_code == 1
    assert "a rules file is a mapping" in result.stderr


def test_classify_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["classify", str(tmp_path / "nope.eml")], obj={})
    assert result.exit_code == 2 and "does not exist" in result.output


def test_classify_runs_as_a_module() -> None:
    done = subprocess.run([sys.executable, "-m", "workbench", "classify", str(BOUNCES / "qmail-userunknown.eml"), "--jsonl"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reason"] == "userunknown"


# --- suppression -------------------------------------------------------------------------------------

def test_suppression_round_trip(tmp_path: Path) -> None:
    db = str(tmp_path / "wb.duckdb")
    mail = tmp_path / "mail"
    mail.mkdir()
    shutil.copy(BOUNCES / "postfix-userunknown.eml", mail)
    assert invoke("--db", db, "load", str(mail), "--json").exit_code == 0
    listed = json.loads(invoke("suppression", "list", "--db", db, "--json").stdout)
    assert [(r["address"], r["reason"], r["scope"]) for r in listed] == [("nobody.here@example.org", "hard-bounce", "global")]
    table = invoke("suppression", "list", "--db", db)
    assert "nobody.here@example.org" in table.stdout and "hard-bounce" in table.stdout

    added = invoke("suppression", "add", "trap@example.com", "--by", "ana", "--note", "spam trap", "--db", db)
    assert added.exit_code == 0 and "suppressed trap@example.com" in added.stdout
    explained = json.loads(invoke("suppression", "explain", "nobody.here@example.org", "--db", db, "--json").stdout)
    assert explained[0]["event_type"] == "bounced" and explained[0]["reason"] == "hard-bounce"
    text = invoke("suppression", "explain", "nobody.here@example.org", "--db", db).stdout
    assert "hard-bounce" in text and "event: bounced" in text and "active" in text

    removed = invoke("suppression", "remove", "nobody.here@example.org", "--by", "ana", "--reason", "mailbox restored",
                     "--db", db)
    assert removed.exit_code == 0 and "lifted 1" in removed.stdout
    again = invoke("suppression", "remove", "nobody.here@example.org", "--by", "ana", "--reason", "x", "--db", db)
    assert again.exit_code == 1 and "no active suppression" in again.stderr
    lifted = json.loads(invoke("suppression", "list", "--lifted", "--db", db, "--json").stdout)
    assert {r["address"]: r["lift_reason"] for r in lifted}["nobody.here@example.org"] == "mailbox restored"
    assert "lifted" in invoke("suppression", "explain", "nobody.here@example.org", "--db", db).stdout
    assert "never suppressed" in invoke("suppression", "explain", "x@example.com", "--db", db).stdout


def test_suppression_sync_sets_the_policy(tmp_path: Path) -> None:
    db = str(tmp_path / "wb.duckdb")
    result = invoke("suppression", "sync", "--soft-count", "2", "--soft-days", "14", "--db", db, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"created": 0, "policy": {"soft_count": 2, "soft_days": 14}}
    kept = json.loads(invoke("suppression", "sync", "--db", db, "--json").stdout)
    assert kept["policy"] == {"soft_count": 2, "soft_days": 14}
    bad = invoke("suppression", "sync", "--soft-count", "-1", "--db", db)
    assert bad.exit_code == 1 and "soft_count must be at least 1" in bad.stderr


def test_suppression_add_needs_an_address(tmp_path: Path) -> None:
    result = invoke("suppression", "add", "nobody", "--by", "ana", "--db", str(tmp_path / "wb.duckdb"))
    assert result.exit_code == 1 and "give an address" in result.stderr


@pytest.mark.parametrize("command", [("classify",), ("suppression",), ("suppression", "list"), ("suppression", "add"),
                                     ("suppression", "remove"), ("suppression", "explain"), ("suppression", "sync"),
                                     ("mailbox",), ("mailbox", "fetch")])
def test_help(command: tuple[str, ...]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0 and "--help" in result.stdout


# --- mailbox fetch ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with dovecot_server() as server:
        for name in ("arf-abuse.eml", "jmrp-outlook.eml", "not-a-bounce.eml"):
            server.append("FBL", (BOUNCES / name).read_bytes())
        yield server


def test_mailbox_fetch_then_load(dovecot: Dovecot, tmp_path: Path) -> None:
    target = tmp_path / "Maildir"
    env = {"FBL_PASSWORD": dovecot.password}
    args = ["mailbox", "fetch", "--host", dovecot.host, "--port", str(dovecot.port), "--user", dovecot.user,
            "--security", "plain", "--folder", "FBL", "--to", str(target), "--password-env", "FBL_PASSWORD"]
    first = invoke(*args, "--json", env=env)
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout) == {"maildir": str(target), "fetched": 3}
    second = invoke(*args, env=env)
    assert "fetched 0 message(s)" in second.stderr
    db = str(tmp_path / "wb.duckdb")
    assert invoke("--db", db, "load", str(target), "--json").exit_code in (0, 2)  # 2: the non-feedback message is reported
    listed = json.loads(invoke("suppression", "list", "--db", db, "--json").stdout)
    assert sorted(r["address"] for r in listed) == ["annoyed@example.net", "reader@outlook.com"]


def test_mailbox_fetch_without_password_or_with_a_wrong_one(dovecot: Dovecot, tmp_path: Path) -> None:
    base = ["mailbox", "fetch", "--host", dovecot.host, "--port", str(dovecot.port), "--user", dovecot.user,
            "--security", "plain", "--to", str(tmp_path / "M"), "--password-env", "NO_SUCH_VARIABLE_FOR_TEST"]
    env_without = {k: v for k, v in os.environ.items() if k != "NO_SUCH_VARIABLE_FOR_TEST"}
    missing = invoke(*base, env=env_without)
    assert missing.exit_code == 1 and "$NO_SUCH_VARIABLE_FOR_TEST" in missing.stderr
    wrong = invoke(*base, env={"NO_SUCH_VARIABLE_FOR_TEST": "wrong"})
    assert wrong.exit_code == 1 and "check host, port" in wrong.stderr


def test_classify_a_maildir_and_a_folder_with_other_files(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    shutil.copy(BOUNCES / "gmail-blocked.eml", maildir / "new" / "1.a.host")
    shutil.copy(BOUNCES / "exim-expired.eml", maildir / "cur" / "2.b.host:2,S")
    rows = jsonl(invoke("classify", str(maildir), "--jsonl"))
    assert [(r["reason"], r["hard"]) for r in rows] == [("spamdetected", False), ("expired", False)]
    assert {r["file"] for r in rows} == {str(maildir)}  # the path as given
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not mail at all")
    shutil.copy(BOUNCES / "qmail-userunknown.eml", other)
    rows = jsonl(invoke("classify", str(other), "--jsonl"))
    assert sorted((Path(str(r["file"])).name, r["reason"]) for r in rows) == [
        ("notes.txt", None), ("qmail-userunknown.eml", "userunknown")]


def test_suppression_list_filters(tmp_path: Path) -> None:
    db = str(tmp_path / "wb.duckdb")
    for address, scope in (("a@example.com", "global"), ("b@example.com", "newsletter"), ("c@example.com", "newsletter")):
        assert invoke("suppression", "add", address, "--by", "ana", "--scope", scope, "--db", db).exit_code == 0
    scoped = json.loads(invoke("suppression", "list", "--scope", "newsletter", "--db", db, "--json").stdout)
    assert sorted(r["address"] for r in scoped) == ["b@example.com", "c@example.com"]
    limited = json.loads(invoke("suppression", "list", "--limit", "1", "--db", db, "--json").stdout)
    assert len(limited) == 1
    manual = json.loads(invoke("suppression", "list", "--reason", "manual", "--db", db, "--json").stdout)
    assert len(manual) == 3
    none = json.loads(invoke("suppression", "list", "--reason", "complaint", "--db", db, "--json").stdout)
    assert none == []
    lifted = invoke("suppression", "remove", "b@example.com", "--by", "bo", "--reason", "asked", "--scope", "global",
                    "--db", db)
    assert lifted.exit_code == 1 and "no active suppression in scope global" in lifted.stderr
