"""Shared benchmark plumbing: run a contender in a fresh process, report time, rows, peak RSS."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

PRELUDE = """
import json, resource, sys, time
def report(rows, seconds, **extra):
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the parent process
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
    print("@@RESULT@@" + json.dumps({"rows": rows, "seconds": seconds, "peak_mib": peak, **extra}))
"""


@dataclass
class Result:
    name: str
    rows: int
    seconds: float
    peak_mib: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def run(name: str, code: str, *args: str, cwd: Path | None = None) -> Result:
    """Run ``code`` (which calls ``report(rows, seconds)``) in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code), *args],
        capture_output=True, text=True, cwd=cwd,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-4000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@"))
    data = json.loads(line[len("@@RESULT@@"):])
    return Result(name, int(data["rows"]), float(data["seconds"]), float(data["peak_mib"]))


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)
