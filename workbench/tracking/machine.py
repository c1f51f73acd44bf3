"""Is an open or a click a person's, or a machine's (Apple Mail Privacy Protection, a link
scanner)?

- An **open** is a machine's when Apple's MPP proxy fetched the pixel: its user agent is the
  bare ``Mozilla/5.0``, or it comes from Apple's network (17.0.0.0/8). Gmail's and Yahoo's
  image proxies fetch when a person opens, so they count as people.
- A **click** is a machine's when it is a ``HEAD`` request, comes from a known scanner or
  HTTP library (Safe Links, Proofpoint, Mimecast, Barracuda, headless browsers, curl, …), or
  arrives within :data:`SCANNER_SECONDS` of the send (no person reads that fast).

Examples
--------
>>> machine_open("Mozilla/5.0", "17.58.1.2"), machine_open("Mozilla/5.0 (Macintosh) AppleWebKit", "203.0.113.9")
(True, False)
>>> machine_click("curl/8.5.0", "198.51.100.7", 600.0, "GET")
True
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["SCANNER_SECONDS", "machine_click", "machine_open"]

SCANNER_SECONDS = 10.0
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)
_SCANNERS = re.compile(
    r"python-requests|python-urllib|aiohttp|httpx|curl/|wget|go-http-client|java/|okhttp|libwww|httpclient|"
    r"headless|phantomjs|bot\b|crawler|spider|scanner|barracuda|mimecast|proofpoint|urldefense|safelinks|"
    r"microsoft office|ms-office|outlook-ios|trendmicro|sophos|symantec|fortiguard|checkpoint|zscaler|bingpreview",
    re.IGNORECASE,
)


def _apple(ip: str | None) -> bool:
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return any(address in net for net in APPLE_NETWORKS)


def machine_open(user_agent: str | None, ip: str | None) -> bool:
    """True for an Apple MPP prefetch (see the module docstring)."""
    return (user_agent or "").strip() == "Mozilla/5.0" or _apple(ip)


def machine_click(user_agent: str | None, ip: str | None, seconds_since_send: float | None, method: str = "GET") -> bool:
    """True for a scanner's click (see the module docstring)."""
    if method.upper() == "HEAD" or not (user_agent or "").strip():
        return True
    if _SCANNERS.search(user_agent or ""):
        return True
    return seconds_since_send is not None and 0 <= seconds_since_send < SCANNER_SECONDS
