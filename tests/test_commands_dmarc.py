"""`workbench dmarc …` and `workbench load` on report files, through the real CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from imapserver import Dovecot, dovecot_server

from workbench.cli import cli

DMARC = FIXTURES / "dmarc"


@pytest.fixture(scope="module")
def imap() -> Iterator[Dovecot]:
    with dovecot_server() as server:
        yield server


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), obj={}, env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_formats_lists_the_report_formats() -> None:
    code, out = run("formats", "--json")
    names = [f["name"] for f in json.loads(out)]
    assert code == 0 and {"dmarc", "tlsrpt", "report-mail"} <= set(names)
    assert names.index("report-mail") < names.index("generic")


def test_load_then_summary_and_enrich(tmp_path: Path) -> None:
    db = str(tmp_path / "wb.duckdb")
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("rfc7489.xml", "rfc9990.xml", "tlsrpt.json", "failure_arf.eml", "several.zip"):
        shutil.copy(DMARC / name, folder / name)
    code, out = run("load", "--db", db, "--json", str(folder))
    data = json.loads(out)
    assert code == 2 and data["rows_quarantined"] == 1 and data["files_loaded"] == 5  # several.zip's readme.txt
    code, out = run("dmarc", "enrich", "--db", db, "--json")
    assert code == 0 and json.loads(out)["domains"] > 3 and json.loads(out)["ips"] == 0
    code, out = run("dmarc", "summary", "--db", db, "--days", "4000", "--json")
    assert code == 0
    summary = json.loads(out)
    verdicts = {r["header_from"]: r["verdict"] for r in summary["readiness"]}
    assert verdicts["news.brightmart.example"] == "no own mail seen"  # no ips table loaded
    assert {r["source_ip"] for r in summary["unknown_senders"]} >= {"192.0.2.10", "203.0.113.66"}
    code, out = run("dmarc", "summary", "--db", db, "--days", "4000")
    assert code == 0 and "senders that are not ours" in out and "203.0.113.66" in out


def test_fetch_over_imap(imap: Dovecot, tmp_path: Path) -> None:
    imap.append("INBOX", (DMARC / "several_attachments.eml").read_bytes())
    db = str(tmp_path / "wb.duckdb")
    args = ["dmarc", "fetch", "--db", db, "--host", imap.host, "--port", str(imap.port), "--user", imap.user,
            "--security", "plain", "--archive", "Done", "--spool", str(tmp_path / "spool"), "--json"]
    code, out = run(*args, env={"WORKBENCH_IMAP_PASSWORD": imap.password})
    assert code == 0, out
    data = json.loads(out)
    assert data["files_loaded"] == 1 and data["rows_loaded"] == 10
    assert imap.count("Done") == 1 and imap.count("INBOX") == 0
    code, out = run(*args, env={"WORKBENCH_IMAP_PASSWORD": imap.password})
    assert code == 0 and json.loads(out)["files"] == []


def test_fetch_errors(imap: Dovecot, tmp_path: Path) -> None:
    base = ["dmarc", "fetch", "--db", str(tmp_path / "wb.duckdb"), "--host", imap.host, "--port", str(imap.port),
            "--user", imap.user, "--security", "plain"]
    code, out = run(*base, env={"WORKBENCH_IMAP_PASSWORD": "wrong"})
    assert code == 1 and "check host, port" in out
    result = CliRunner().invoke(cli, [*base, "--password-env", "NO_SUCH_VARIABLE_SET"], obj={})
    assert result.exit_code == 2 and "NO_SUCH_VARIABLE_SET" in result.output
