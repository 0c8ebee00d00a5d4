"""uvicorn's HTTP protocol with one send per answer instead of two.

uvicorn writes a response's status line and headers to the socket at
`http.response.start` and the body at `http.response.body`: two system calls and,
on the wire, two segments for every confirmation.  Wrapping the connection's
transport so that the writes of one event-loop turn are joined makes that one.
Anything that waits between its start and its body (a streamed answer) still gets
its headers at the end of the turn they were written in.

The floor app on plain uvicorn and on this protocol, alternating rounds
(bench/floor.py): see docs/performance.md.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

JOIN_LIMIT = 64 * 1024  # writes above this go out on their own


class CoalescingTransport:
    """A transport whose writes within one loop turn go out as one write."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if len(data) > JOIN_LIMIT:
            # A large body (a batch answer of megabytes): joining would copy all of it to
            # save one system call; send what is pending, then the body as it is.
            self._flush()
            self._transport.write(data)
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        pending = self._pending
        if pending:
            self._pending = []
            if not self._transport.is_closing():  # a connection already gone gets nothing more
                self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def write_eof(self) -> None:
        if self._pending:
            self._loop.call_soon(self._transport.write_eof)  # after the flush already queued
        else:
            self._transport.write_eof()

    def close(self) -> None:
        # Never sends pending bytes at once: the answer of a request on a connection that
        # closes after it (`Connection: close`) would leave before callbacks queued ahead
        # of its flush, among them the access log's write of its record (AccessLog.
        # persist_soon).  The close follows the flush instead.
        if self._pending:
            self._loop.call_soon(self._transport.close)
        else:
            self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a CoalescingTransport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
