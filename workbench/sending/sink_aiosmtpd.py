"""The sink's aiosmtpd engine: STARTTLS and AUTH by the library, delivery by the shared writer.

Used by :class:`workbench.sending.sink.Sink` when a TLS context or AUTH users are given.
"""

from __future__ import annotations

import asyncio
import hmac
import ssl
from collections.abc import Callable, Mapping
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from workbench.sending.sink import SinkSession, _Shared

__all__ = ["aiosmtpd_factory"]


class _Handler:
    def __init__(self, shared: _Shared) -> None:
        self.shared = shared

    async def handle_RCPT(self, server: _SinkSMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.shared.replies.get(address.lower())
        if reply and reply[0] >= 400:
            return f"{reply[0]} {reply[1]}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: _SinkSMTP, session: Session, envelope: Envelope) -> str:
        info = server.info
        number = info.messages + 1
        body = envelope.original_content or b""
        helo = session.host_name or "unknown"
        for rcpt in envelope.rcpt_tos:
            self.shared.store(str(envelope.mail_from), rcpt, helo, info, number, body)
        info.messages = number
        return f"250 2.0.0 OK S{info.session}M{number}"


class _SinkSMTP(SMTP):
    """aiosmtpd's server, logging each session to the sink's session log."""

    def __init__(self, shared: _Shared, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared = shared
        self.info = SinkSession(shared.next_session(), "?", 0.0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.info.peer == "?"
        self.shared.transports.add(transport)
        super().connection_made(transport)
        if first:
            import time

            peer = transport.get_extra_info("peername")
            self.info.peer = peer[0] if peer else "?"
            self.info.started = time.time()

    def connection_lost(self, error: Exception | None) -> None:
        for transport in (self.transport, getattr(self, "_original_transport", None)):
            self.shared.transports.discard(transport)  # type: ignore[arg-type]
        if self.info.ended is None:
            self.shared.close_session(self.info)
        super().connection_lost(error)


def aiosmtpd_factory(shared: _Shared, tls_context: object | None, auth: Mapping[str, str]) -> Callable[[], SMTP]:
    """A protocol factory for ``loop.create_server``."""
    handler = _Handler(shared)

    def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode("utf-8", "replace"), data.password.decode("utf-8", "replace")
        expected = auth.get(user)
        ok = expected is not None and hmac.compare_digest(expected.encode(), password.encode())
        return AuthResult(success=ok, handled=False)

    context = tls_context if isinstance(tls_context, ssl.SSLContext) else None

    def factory() -> SMTP:
        return _SinkSMTP(shared, handler, hostname="sink", ident="workbench sink", decode_data=False,
                         data_size_limit=50 << 20, tls_context=context, require_starttls=context is not None,
                         authenticator=authenticator if auth else None, auth_required=bool(auth),
                         auth_require_tls=True)  # never AUTH in clear text

    return factory
