"""One write per answer: the coalescing transport and uvicorn's protocol over it."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from service.transport import JOIN_LIMIT, CoalescingHttpToolsProtocol, CoalescingTransport


class FakeTransport:
    """Records what would go to the socket."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.buffered = 0

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def test_writes_of_one_turn_go_out_as_one() -> None:
    async def run() -> FakeTransport:
        fake = FakeTransport()
        transport = CoalescingTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"head ")
        transport.write(b"body")
        assert fake.writes == []  # nothing until the turn ends
        assert transport.get_write_buffer_size() == 9
        await asyncio.sleep(0)
        transport.write(b"next")
        await asyncio.sleep(0)
        return fake

    assert asyncio.run(run()).writes == [b"head body", b"next"]


def test_a_large_body_is_not_copied_into_a_join() -> None:
    big = b"x" * (JOIN_LIMIT + 1)

    async def run() -> FakeTransport:
        fake = FakeTransport()
        transport = CoalescingTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"head ")
        transport.write(big)
        assert len(fake.writes) == 2  # in order, at once
        await asyncio.sleep(0)
        return fake

    writes = asyncio.run(run()).writes
    assert writes == [b"head ", big]


def test_close_sends_what_is_pending_first() -> None:  # from the loop, then closes
    async def run() -> FakeTransport:
        fake = FakeTransport()
        transport = CoalescingTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"last words")
        transport.close()
        await asyncio.sleep(0)  # the flush, then the close queued after it
        return fake

    fake = asyncio.run(run())
    assert fake.writes == [b"last words"] and fake.closed


def test_nothing_is_written_to_a_connection_already_closing() -> None:
    async def run() -> FakeTransport:
        fake = FakeTransport()
        transport = CoalescingTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"too late")
        fake.closed = True  # the peer went away before the turn ended
        await asyncio.sleep(0)
        return fake

    assert asyncio.run(run()).writes == []


def test_everything_else_is_the_real_transport() -> None:
    loop = asyncio.new_event_loop()
    try:
        transport = CoalescingTransport(FakeTransport(), loop)  # type: ignore[arg-type]
        assert transport.get_extra_info("peername") == ("127.0.0.1", 50000)
        assert transport.is_closing() is False
    finally:
        loop.close()


async def answer(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    body = b'{"code":"VALID"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    if scope["path"] == "/slow":  # a streamed answer: its headers must not wait for the body
        await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": body})


def serve_one(path: str) -> tuple[list[bytes], list[int]]:
    """Feed one request to the protocol over a fake socket: the writes, and how many had
    gone out when the body was sent."""

    async def run() -> tuple[list[bytes], list[int]]:
        config = uvicorn.Config(
            app=answer, http=CoalescingHttpToolsProtocol, lifespan="off", log_level="warning"
        )
        protocol = CoalescingHttpToolsProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
        fake = FakeTransport()
        protocol.connection_made(fake)  # type: ignore[arg-type]
        seen: list[int] = []
        protocol.data_received(f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{{}}".encode())
        for _ in range(100):
            await asyncio.sleep(0.005)
            seen.append(len(fake.writes))
            if fake.writes and fake.writes[-1].endswith(b"}"):
                break
        protocol.connection_lost(None)
        return fake.writes, seen

    return asyncio.run(run())


def test_an_answer_goes_out_in_one_write() -> None:
    writes, _ = serve_one("/v1/confirmations")
    assert len(writes) == 1, writes
    head, _, body = writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 16" in head
    assert body == b'{"code":"VALID"}'


def test_a_streamed_answer_sends_its_headers_without_waiting() -> None:
    writes, seen = serve_one("/slow")
    assert len(writes) == 2 and writes[0].startswith(b"HTTP/1.1 200 OK") and writes[1] == b'{"code":"VALID"}'
    assert seen[0] == 1  # 5 ms in, the headers had gone out; the body came 50 ms later


def test_a_close_waits_for_what_was_queued_before_the_answer() -> None:
    """A `Connection: close` answer leaves from the loop like any other: after callbacks
    queued before it (the access log's write of its record), never at close()."""

    async def run() -> list[str]:
        loop = asyncio.get_running_loop()
        fake = FakeTransport()
        transport = CoalescingTransport(fake, loop)  # type: ignore[arg-type]
        events: list[str] = []
        loop.call_soon(lambda: events.append(f"record written, {len(fake.writes)} writes sent"))
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"{}")
        transport.close()
        events.append(f"after close(): {len(fake.writes)} writes, closed={fake.closed}")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        events.append(f"then: {fake.writes}, closed={fake.closed}")
        return events

    assert asyncio.run(run()) == [
        "after close(): 0 writes, closed=False",
        "record written, 0 writes sent",
        "then: [b'HTTP/1.1 200 OK\\r\\n\\r\\n{}'], closed=True",
    ]
