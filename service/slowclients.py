"""Deadlines for slow clients and a cap on open connections, in the HTTP protocol.

uvicorn times out only an idle keep-alive connection, and a byte of a new request
cancels that timer: a client that sends its headers one byte every few seconds holds
its connection (and a file descriptor) for as long as it likes, and enough of them
exhaust the process.  So every request here has two deadlines:

- its headers must be complete within `header_timeout` seconds of the connection being
  made (or, on a kept-alive connection, of the request's first byte);
- its body within `body_timeout` seconds of the headers.

A request that misses one is answered 408 (unless an answer is already on its way) and
the connection closed; an application still waiting for the body sees the client gone.
Beyond `max_connections` open connections in one worker, a new connection is answered
503 at once, before anything is read or parsed, and closed: cheaper than any request.
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from typing import Any

from core_ext import error_body
from service.metrics import REFUSALS
from service.tls import CLIENT_CERTIFICATE, certificate_institution
from service.transport import CoalescingHttpToolsProtocol

DEFAULT_MAX_CONNECTIONS = 1000
# File descriptors kept back from the connection cap: the listener, the log files, the
# database pool, the snapshot file and the interpreter's own.
RESERVED_DESCRIPTORS = 64


def max_connections_default() -> int:
    """1,000, or fewer where the open-file limit would be reached first."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MAX_CONNECTIONS
    return max(1, min(DEFAULT_MAX_CONNECTIONS, soft - RESERVED_DESCRIPTORS))


@dataclass(frozen=True)
class ClientLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = DEFAULT_MAX_CONNECTIONS


def _canned(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


TIMED_OUT = _canned(
    b"408 Request Timeout",
    error_body("REQUEST_TIMEOUT", "リクエストの受信が時間内に完了しませんでした。再度照会してください。"),
)
BUSY = _canned(
    b"503 Service Unavailable",
    error_body("OVERLOADED", "接続数が上限に達しています。しばらくしてから再度照会してください。"),
)


SWEEP_SECONDS = 0.5  # how often a worker looks for connections past their deadline


class GuardedHttpToolsProtocol(CoalescingHttpToolsProtocol):
    """The one-write protocol with the deadlines and the connection cap above.

    A request only notes its deadline (one clock read per phase); a sweep every half
    second closes the connections past theirs, so no timer is made or cancelled per
    request, and a deadline is enforced up to half a second late.  The limits come from
    the server's config (`client_limits`, set by service.serving.ServerConfig); a plain
    uvicorn.Config gets the defaults.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits: ClientLimits = getattr(self.config, "client_limits", None) or ClientLimits()
        self.due = 0.0  # loop time by which the current phase must end; 0: none
        self.reading_body = False
        self._refused = False
        # The scope extension naming the client certificate's institution (service/tls.py).
        self.certificate: dict[str, dict[object, object]] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            REFUSALS["connection_cap"] += 1
            transport.write(BUSY)
            transport.close()
            return
        super().connection_made(transport)
        self.due = self.loop.time() + self.limits.header_timeout
        institution = certificate_institution(transport)
        if institution is not None:
            self.certificate = {CLIENT_CERTIFICATE: {"institution": institution}}
        _ensure_sweeping(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return  # never counted, never parsed anything
        self.due = 0.0
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.certificate is not None:
            self.scope["extensions"] = self.certificate
        if not self.due:  # the first request's clock started at connection_made
            self.due = self.loop.time() + self.limits.header_timeout

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.due = self.loop.time() + self.limits.body_timeout
        self.reading_body = True

    def on_message_complete(self) -> None:
        self.due = 0.0
        self.reading_body = False
        super().on_message_complete()

    def expire(self) -> None:
        """Past the deadline: 408 where no answer has begun, and the connection closed."""
        self.due = 0.0
        cycle = self.cycle
        if self.reading_body:
            REFUSALS["body_timeout"] += 1
            answer = cycle is not None and not cycle.response_started
            if cycle is not None and not cycle.response_complete:
                # The application waiting in receive() gets http.disconnect, answers nothing.
                cycle.disconnected = True
                cycle.message_event.set()
        else:
            REFUSALS["header_timeout"] += 1
            # A kept-alive connection whose previous answer is still being written gets no
            # 408 in the middle of it: only closed.
            answer = cycle is None or cycle.response_complete
        transport = self.transport
        if transport.is_closing():
            return
        if answer:
            transport.write(TIMED_OUT)
        transport.close()


def _ensure_sweeping(protocol: GuardedHttpToolsProtocol) -> None:
    """One sweep per server (its connections set), started with its first connection."""
    state = protocol.server_state
    if getattr(state, "onshi_sweeping", False):
        return
    state.onshi_sweeping = True  # type: ignore[attr-defined]
    loop = protocol.loop

    def sweep() -> None:
        now = loop.time()
        for connection in list(state.connections):
            if isinstance(connection, GuardedHttpToolsProtocol) and connection.due and now >= connection.due:
                connection.expire()
        loop.call_later(SWEEP_SECONDS, sweep)

    loop.call_later(SWEEP_SECONDS, sweep)
