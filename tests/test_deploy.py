"""The shipped scheduling files: a shell script that parses, a timer and a cron line that run it daily."""

from __future__ import annotations

import configparser
import re
import subprocess
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_report_script_parses_and_runs_both_reports() -> None:
    script = DEPLOY / "workbench-report.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text(encoding="utf-8")
    assert "report run 01_deliverability_overview" in text and "report run 02_reputation" in text
    assert script.stat().st_mode & 0o111


def test_timer_runs_daily_and_catches_up() -> None:
    timer = configparser.ConfigParser(strict=False)
    timer.read(DEPLOY / "workbench-report.timer")
    assert timer["Timer"]["OnCalendar"] == "*-*-* 06:15:00" and timer["Timer"]["Persistent"] == "true"
    service = configparser.ConfigParser(strict=False)
    service.read(DEPLOY / "workbench-report.service")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"].endswith("deploy/workbench-report.sh")


def test_cron_line_is_daily() -> None:
    lines = [ln for ln in (DEPLOY / "crontab").read_text(encoding="utf-8").splitlines() if ln and not ln.startswith(("#", "MAILTO"))]
    assert len(lines) == 1
    assert re.match(r"^15 6 \* \* \* .*deploy/workbench-report\.sh", lines[0])
    assert "%" not in lines[0]  # cron would turn it into a newline
