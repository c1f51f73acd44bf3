"""``reports/index.html``: every report run, newest first, from ``reports/runs.jsonl``."""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["list_runs", "render_index", "write_index"]


def list_runs(reports: Path) -> list[dict[str, Any]]:
    """The runs recorded under ``reports`` (oldest first); unreadable lines are skipped."""
    log = Path(reports) / "runs.jsonl"
    if not log.is_file():
        return []
    runs = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict) and "name" in item:
            runs.append(item)
    return runs


def _link(path: str | None, label: str) -> str:
    if not path:
        return ""
    return f'<a href="{html.escape(path, quote=True)}">{html.escape(label)}</a>'


def render_index(runs: list[dict[str, Any]]) -> str:
    """The index page (static HTML, no script). Pure."""
    rows = []
    for run in reversed(runs):
        params = ", ".join(f"{k}={v!r}" for k, v in (run.get("parameters") or {}).items() if k != "db")
        status = run.get("status", "?")
        error = f'<div class="error">{html.escape(run.get("error") or "")}</div>' if status != "ok" else ""
        rows.append(
            "<tr>"
            f"<td>{html.escape(str(run.get('started', '')))}</td>"
            f"<td>{html.escape(str(run.get('name', '')))}</td>"
            f'<td class="{html.escape(status)}">{html.escape(status)}{error}</td>'
            f"<td>{html.escape(params)}</td>"
            f"<td>{float(run.get('seconds') or 0):.1f} s</td>"
            f"<td>{_link(run.get('html'), 'report')} {_link(run.get('ipynb'), 'notebook')}</td>"
            "</tr>"
        )
    body = "\n".join(rows) or '<tr><td colspan="6">no report has run yet: <code>workbench report run NOTEBOOK</code></td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Deliverability reports</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: 6px 10px; border-bottom: 1px solid #ddd; vertical-align: top; }}
td.ok {{ color: #1a7f37; }} td.failed {{ color: #b42318; font-weight: 600; }}
.error {{ font-weight: normal; font-size: 12px; color: #555; max-width: 40em; }}
</style></head>
<body><h1>Deliverability reports</h1>
<p>Every run of <code>workbench report run</code>, newest first. A later run of the same
notebook on the same day replaces its files.</p>
<table><thead><tr><th>started (UTC)</th><th>notebook</th><th>status</th><th>parameters</th>
<th>took</th><th>open</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""


def write_index(reports: Path) -> Path:
    """Rewrite ``reports/index.html`` from the run log (atomically)."""
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    target = reports / "index.html"
    fd, tmp = tempfile.mkstemp(dir=reports, prefix=".index-", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(render_index(list_runs(reports)))
    os.replace(tmp, target)
    return target
