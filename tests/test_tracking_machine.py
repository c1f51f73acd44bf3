"""Machine opens and clicks: Apple MPP, scanners, too-fast clicks."""

from __future__ import annotations

import pytest

from workbench.tracking.machine import SCANNER_SECONDS, machine_click, machine_open

SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"


@pytest.mark.parametrize(("ua", "ip", "machine"), [
    ("Mozilla/5.0", "203.0.113.5", True),            # Apple MPP's proxy agent
    (SAFARI, "17.58.100.1", True),                   # Apple's network
    (SAFARI, "203.0.113.5", False),
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "66.249.84.1", False),
    (None, "bad-ip", False),
])
def test_opens(ua, ip, machine):
    assert machine_open(ua, ip) is machine


@pytest.mark.parametrize(("ua", "seconds", "method", "machine"), [
    (SAFARI, 3600.0, "GET", False),
    (SAFARI, 2.0, "GET", True),                      # read and clicked in two seconds: a scanner
    (SAFARI, None, "GET", False),
    (SAFARI, 3600.0, "HEAD", True),
    ("", 3600.0, "GET", True),
    ("curl/8.5.0", 3600.0, "GET", True),
    ("Mozilla/5.0 (compatible; Microsoft Office/16.0)", 3600.0, "GET", True),
    ("Mozilla/5.0 AppleWebKit (KHTML, like Gecko) HeadlessChrome/124.0", 3600.0, "GET", True),
    ("python-requests/2.32", 3600.0, "GET", True),
])
def test_clicks(ua, seconds, method, machine):
    assert machine_click(ua, "198.51.100.7", seconds, method) is machine


def test_threshold():
    assert machine_click(SAFARI, None, SCANNER_SECONDS - 0.1) and not machine_click(SAFARI, None, SCANNER_SECONDS)
