"""Slow and idle clients against a real server: header and body deadlines, the connection cap."""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.processes import CARD_1, CLINIC_CODE, CLINIC_KEY, Served, confirm, serve

pytestmark = pytest.mark.slow

TRICKLERS = 500
HEAD = b"POST /v1/confirmations HTTP/1.1\r\nHost: onshi\r\nContent-Type: application/json\r\n"


def _answer_of(sock: socket.socket, within: float = 5) -> tuple[int, dict | None]:
    """Read until the server closes; the status and JSON body (0 when it closed without one)."""
    sock.settimeout(within)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head:
        return 0, None
    return int(head.split(b" ", 2)[1]), json.loads(body) if body else None


class Polite(threading.Thread):
    """A well-behaved clinic: one confirmation every 50 ms, each timed."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.answers: list[tuple[int, float]] = []

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            started = time.monotonic()
            status, _ = confirm(self.url, f"polite-{n}")
            self.answers.append((status, time.monotonic() - started))
            time.sleep(0.05)


def _trickle_until_closed(port: int, count: int, every: float, limit: float) -> list[float]:
    """Open `count` connections that send their headers one byte every `every` seconds; the
    seconds after which the server closed each (or answered it)."""
    sel = selectors.DefaultSelector()
    started = time.monotonic()
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        sock.send(HEAD[:1])
        sel.register(sock, selectors.EVENT_READ, [1])
    closed: list[float] = []
    next_byte = started + every
    while sel.get_map() and time.monotonic() - started < limit:
        for key, _ in sel.select(timeout=0.2):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            try:
                data = conn.recv(4096)
            except ConnectionResetError:
                data = b""
            if not data or b"408" in data.split(b"\r\n", 1)[0]:
                closed.append(time.monotonic() - started)
                sel.unregister(conn)
                conn.close()
        if time.monotonic() >= next_byte:
            next_byte += every
            for key in list(sel.get_map().values()):
                sent = key.data
                try:
                    key.fileobj.send(HEAD[sent[0] : sent[0] + 1])  # type: ignore[union-attr]
                    sent[0] += 1
                except OSError:
                    pass  # closed by the server: read next round
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    return closed


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = serve(
        tmp_path_factory.mktemp("slow"),
        ["--data", str(EXAMPLES / "data")],
        2,
        ONSHI_HEADER_TIMEOUT="10",
        ONSHI_BODY_TIMEOUT="2",
    )
    yield served
    served.kill_if_running()


def test_trickling_connections_are_closed_while_a_polite_client_is_answered(server: Served) -> None:
    polite = Polite(server.url)
    polite.start()
    try:
        closed = _trickle_until_closed(server.port, TRICKLERS, every=2.0, limit=60)
    finally:
        polite.stop.set()
        polite.join(15)
    slowest = max(seconds for _, seconds in polite.answers)
    print(
        f"{len(closed)} of {TRICKLERS} trickling connections closed"
        f" after {min(closed):.1f}-{max(closed):.1f} s;"
        f" {len(polite.answers)} polite answers, the slowest in {slowest * 1000:.0f} ms"
    )
    assert len(closed) == TRICKLERS, f"{TRICKLERS - len(closed)} still open after 60 s"
    # The header deadline is 10 s from the connection: none goes early, all soon after.
    assert min(closed) >= 9.5 and max(closed) < 20, (min(closed), max(closed))
    assert len(polite.answers) > 50
    assert {status for status, _ in polite.answers} == {200}
    assert max(seconds for _, seconds in polite.answers) < 1.0


def _metric_max(url: str, series: str) -> float:
    """The series' largest value over 20 scrapes: each worker answers /metrics for itself,
    and any of them may take a scrape."""
    values = []
    for _ in range(20):
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
            text = r.read().decode()
        values.append(
            next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(series))
        )
    return max(values)


def _send_headers(port: int, length: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(HEAD + f"Authorization: Bearer {CLINIC_KEY}\r\nContent-Length: {length}\r\n\r\n".encode())
    return sock


def test_a_body_that_does_not_arrive_is_answered_408(server: Served) -> None:
    body = json.dumps({"institution_code": CLINIC_CODE, **CARD_1}).encode()
    sock = _send_headers(server.port, len(body))
    sock.sendall(body[:10])
    started = time.monotonic()
    with sock:
        status, answer = _answer_of(sock)
    assert status == 408 and answer is not None
    assert answer["error"]["code"] == "REQUEST_TIMEOUT"
    assert 1.5 <= time.monotonic() - started < 4
    assert confirm(server.url, "after-408")[0] == 200
    # The worker that timed it out counts it (two workers: ask until each has answered).
    assert _metric_max(server.url, 'onshi_refusals_total{reason="body_timeout"}') >= 1


def test_a_body_in_time_is_answered(server: Served) -> None:
    body = json.dumps({"institution_code": CLINIC_CODE, **CARD_1}).encode()
    sock = _send_headers(server.port, len(body))
    time.sleep(1)  # within the 2 s body deadline
    sock.sendall(body)
    with sock:
        sock.settimeout(5)
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 200 ")


def test_kept_alive_connections_get_a_new_header_deadline_per_request(server: Served) -> None:
    """A second request on one connection is not cut short by the first's clock."""
    body = json.dumps({"institution_code": CLINIC_CODE, **CARD_1}).encode()
    request = (
        HEAD + f"Authorization: Bearer {CLINIC_KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        for _ in range(3):
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            time.sleep(1.5)  # within uvicorn's 5 s keep-alive; 4.5 s in all on one connection


def test_connections_beyond_the_cap_are_refused_at_once(tmp_path: Path) -> None:
    served = serve(tmp_path, ["--data", str(EXAMPLES / "data")], 1, ONSHI_MAX_CONNECTIONS="20")
    held = []
    try:
        for _ in range(20):
            held.append(socket.create_connection(("127.0.0.1", served.port)))
        time.sleep(0.3)  # let the server take them all
        extra = socket.create_connection(("127.0.0.1", served.port))
        started = time.monotonic()
        with extra:
            status, answer = _answer_of(extra)
        assert status == 503 and answer is not None
        assert answer["error"]["code"] == "OVERLOADED"
        assert time.monotonic() - started < 1
        for sock in held[:5]:
            sock.close()
        time.sleep(0.3)
        assert confirm(served.url, "room-again")[0] == 200
        assert _metric_max(served.url, 'onshi_refusals_total{reason="connection_cap"}') == 1
    finally:
        for sock in held:
            sock.close()
        served.kill_if_running()
