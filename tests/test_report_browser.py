"""The rendered HTML in a real browser: headless Chromium, networking off, driven over the
DevTools protocol. Plotly graphs must draw and the console must stay clean."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/system-deps.sh installs it)")


class DevTools:
    """A minimal DevTools-protocol client for one page."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            message = json.loads(self.ws.recv())
            self.events.append(message)
            if message.get("method") == method:
                return message
        raise TimeoutError(method)

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[str]:
    """Headless Chromium with no network (every host resolves nowhere, proxy is a dead port)."""
    profile = tempfile.mkdtemp(prefix="wb-chromium-")
    assert CHROMIUM is not None
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--remote-allow-origins=*",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        endpoint = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                endpoint = found.group(1)
                break
        assert endpoint, "chromium did not start its DevTools endpoint"
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)


def _open_page(endpoint: str, page: Path) -> tuple[DevTools, DevTools]:
    root = DevTools(endpoint)
    target = root.call("Target.createTarget", url="about:blank")["targetId"]
    port = re.search(r"ws://[^/]+", endpoint)
    assert port
    tab = DevTools(f"{port.group(0)}/devtools/page/{target}")
    for domain in ("Runtime", "Log", "Network", "Page"):
        tab.call(f"{domain}.enable")
    tab.call("Page.navigate", url=page.as_uri())
    tab.wait_for("Page.loadEventFired", timeout=60)
    return root, tab


def _rendered(tab: DevTools) -> dict[str, int]:
    script = """JSON.stringify({
        divs: document.querySelectorAll('.plotly-graph-div').length,
        drawn: document.querySelectorAll('.js-plotly-plot .main-svg').length,
        plots: document.querySelectorAll('.js-plotly-plot').length,
        traces: Array.from(document.querySelectorAll('.js-plotly-plot')).filter(g => g.data && g.data.length).length
    })"""
    deadline = time.monotonic() + 30
    while True:
        value = json.loads(tab.call("Runtime.evaluate", expression=script, returnByValue=True)["result"]["value"])
        if value["plots"] == value["divs"] or time.monotonic() > deadline:
            return dict(value)
        time.sleep(0.2)


def _problems(tab: DevTools) -> list[str]:
    problems = []
    for event in tab.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            problems.append(f"exception: {params['exceptionDetails'].get('text')} {params['exceptionDetails'].get('exception', {}).get('description', '')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            problems.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            problems.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Network.requestWillBeSent" and not params["request"]["url"].startswith(("file:", "data:", "blob:", "about:")):
            problems.append(f"network request: {params['request']['url']}")
    return problems


@pytest.mark.parametrize("name", ["01_deliverability_overview", "02_reputation"])
def test_report_renders_offline_with_working_charts(browser: str, rendered: dict[str, object], name: str) -> None:
    page = next(Path(str(rendered["out"])).glob(f"*/{name}.html"))
    root, tab = _open_page(browser, page)
    try:
        state = _rendered(tab)
        time.sleep(0.5)  # late console messages
        tab.call("Runtime.evaluate", expression="1")
        problems = _problems(tab)
    finally:
        tab.close()
        root.close()
    assert state["divs"] >= 3
    assert state["plots"] == state["divs"] and state["drawn"] >= state["divs"] and state["traces"] == state["divs"], state
    assert problems == []


def test_the_index_page_links_the_reports(browser: str, rendered: dict[str, object]) -> None:
    root, tab = _open_page(browser, Path(str(rendered["out"])) / "index.html")
    try:
        links = tab.call("Runtime.evaluate", expression="Array.from(document.links).map(a => a.href).join(' ')",
                         returnByValue=True)["result"]["value"]
        problems = _problems(tab)
    finally:
        tab.close()
        root.close()
    assert "02_reputation.html" in links and "01_deliverability_overview.html" in links
    assert problems == []


def test_the_check_catches_a_page_that_needs_the_network(browser: str, tmp_path: Path) -> None:
    page = tmp_path / "cdn.html"
    page.write_text('<!DOCTYPE html><html><head><script src="https://cdn.example.invalid/plotly.min.js"></script></head>'
                    '<body><div class="plotly-graph-div"></div><script>Plotly.newPlot("x", [])</script></body></html>',
                    encoding="utf-8")
    root, tab = _open_page(browser, page)
    try:
        state = _rendered(tab)
        problems = _problems(tab)
    finally:
        tab.close()
        root.close()
    assert state["drawn"] == 0
    assert any("cdn.example.invalid" in p for p in problems)
    assert any("Plotly is not defined" in p for p in problems)
