"""Fetching small documents over HTTPS (MTA-STS policies, BIMI logos) through the resolver seam.

:class:`HttpsFetcher` resolves the host through the audit's resolver (so the offline zone or
a test's Knot server decides where ``mta-sts.brightmart.example`` lives), connects to that
address (``port`` is configurable for tests; 443 otherwise), and always verifies the server
certificate for the host name, against the system's CAs or ``ca_bundle``: verification is
never switched off. Redirects are not followed (RFC 8461 §3.3), bodies are bounded.
:class:`OfflineWeb` answers from files (``<root>/<host>/<path>``), the offline demo's default.
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception

from workbench.auth.sansio import WebGet, WebResponse

__all__ = ["AsyncWeb", "HttpsFetcher", "OfflineWeb"]


@dataclass
class HttpsFetcher:
    """HTTPS GET with verification, host names resolved through ``resolver``.

    Parameters
    ----------
    resolver:
        Any dnspython-shaped resolver (``None``: the operating system's).
    ca_bundle:
        A PEM file of CAs to trust instead of the system's (a test CA, a corporate proxy).
    port:
        The port to connect to (443; tests run servers on high ports).
    timeout:
        Seconds for connect and read.
    """

    resolver: Any = None
    ca_bundle: str | Path | None = None
    port: int = 443
    timeout: float = 5.0

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_bundle) if self.ca_bundle else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _address(self, host: str) -> str:
        try:
            ipaddress.ip_address(host)
            return host
        except ValueError:
            pass
        if self.resolver is None:
            return host
        for rdtype in ("A", "AAAA"):
            try:
                for rdata in self.resolver.resolve(host, rdtype):
                    return str(rdata.address)
            except dns.exception.DNSException:
                continue
        raise OSError(f"{host} has no A/AAAA record")

    def get(self, request: WebGet) -> WebResponse:
        """Fetch ``request.url`` (https only); errors come back in :attr:`WebResponse.error`."""
        url = urllib.parse.urlsplit(request.url)
        if url.scheme != "https" or not url.hostname:
            return WebResponse(request.url, error="only https:// URLs are fetched")
        host = url.hostname
        port = url.port or self.port
        try:
            address = self._address(host)
            connection = _PinnedHTTPSConnection(host, address, port, self._context(), self.timeout)
            try:
                connection.request("GET", url.path or "/", headers={"Host": host, "User-Agent": "workbench-audit",
                                                                    "Connection": "close"})
                response = connection.getresponse()
                body = response.read(request.max_bytes + 1)
                if len(body) > request.max_bytes:
                    return WebResponse(request.url, response.status, error=f"larger than {request.max_bytes} bytes")
                return WebResponse(request.url, response.status, response.getheader("Content-Type", "") or "", body)
            finally:
                connection.close()
        except ssl.SSLCertVerificationError as exc:
            return WebResponse(request.url, error=f"certificate not trusted: {exc.verify_message}")
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            return WebResponse(request.url, error=f"{type(exc).__name__}: {exc}")


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to ``address`` that verifies the certificate for ``host``."""

    def __init__(self, host: str, address: str, port: int, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._ctx = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


@dataclass
class AsyncWeb:
    """An async face for a sync fetcher (each fetch in a worker thread)."""

    inner: Any

    async def get(self, request: WebGet) -> WebResponse:
        result: WebResponse = await asyncio.to_thread(self.inner.get, request)
        return result


@dataclass
class OfflineWeb:
    """Documents from a folder: ``https://host/path`` is ``<root>/<host>/<path>``."""

    root: Path

    def get(self, request: WebGet) -> WebResponse:
        """The file for ``request.url``, or a 404."""
        url = urllib.parse.urlsplit(request.url)
        if url.scheme != "https" or not url.hostname:
            return WebResponse(request.url, error="only https:// URLs are fetched")
        path = (Path(self.root) / url.hostname.lower() / url.path.lstrip("/")).resolve()
        if not path.is_relative_to(Path(self.root).resolve()) or not path.is_file():
            return WebResponse(request.url, 404, error=f"not in the offline web folder {self.root}")
        body = path.read_bytes()[: request.max_bytes + 1]
        if len(body) > request.max_bytes:
            return WebResponse(request.url, 200, error=f"larger than {request.max_bytes} bytes")
        kind = "image/svg+xml" if path.suffix == ".svg" else "text/plain"
        return WebResponse(request.url, 200, kind, body)
