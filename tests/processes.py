"""Helpers for tests that run real `onshi serve` processes: ports, readiness, raw HTTP.

`HeldRequest` is a confirmation whose headers and first half of the body have been sent
and whose rest is held back: a request the server has accepted and is in the middle of,
for tests of what a stop does to work in flight.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLES

ONSHI = Path(sys.executable).with_name("onshi")  # this environment's command
CLINIC_KEY = "demo-key-clinic"
CLINIC_CODE = "2710000019"
# A member of the public examples whose card-path answer is VALID (cases.json).
CARD_1 = {"presented": "myna_card", "certificate_serial": "ABCDEF0000000001", "auth_method": "face"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """GET (body None) or POST JSON; the status and the decoded answer (None if empty)."""
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def confirm(base_url: str, request_id: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """One confirmation by the examples' clinic, under a request id of the test's choosing."""
    headers = {
        "Authorization": f"Bearer {CLINIC_KEY}",
        "Content-Type": "application/json",
        "X-Request-ID": request_id,
    }
    return http(
        base_url + "/v1/confirmations", {"institution_code": CLINIC_CODE, **(body or CARD_1)}, headers
    )


def assert_examples_pass(base_url: str, batch: bool = True) -> None:
    """The public examples' check.py against a server on their data set: every case passes."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "check.py"), "--url", base_url, *(["--batch"] if batch else [])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1].endswith(" 0 failed")


def wait_until(condition: Callable[[], bool], within: float, what: str) -> float:
    """Poll until `condition()` holds; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if condition():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not within {within} s: {what}")


def ready(base_url: str) -> bool:
    try:
        return http(base_url + "/v1/readyz")[0] == 200
    except OSError:
        return False


def wait_ready(
    base_url: str,
    process: subprocess.Popen[bytes],
    within: float = 60,
    is_ready: Callable[[str], bool] = ready,
) -> None:
    def up() -> bool:
        assert process.poll() is None, "the server exited before it was ready"
        return is_ready(base_url)

    wait_until(up, within, "the server is ready")


STARTED = "Application startup complete"  # uvicorn's line once a worker's lifespan has started


def wait_all_started(read_log: Callable[[], str], workers: int, line: str = STARTED) -> None:
    """Until every worker has logged `line`: readiness on one connection speaks for one worker
    only, and the others may still be loading (they answer 503 NOT_READY meanwhile)."""
    wait_until(lambda: read_log().count(line) >= workers, 60, f"{workers} worker(s) logged {line!r}")


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@dataclass
class Served:
    """An `onshi serve` process started by `serve`, its output in `log`."""

    process: subprocess.Popen[bytes]
    port: int
    url: str
    state: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill_if_running(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def serve(
    tmp_path: Path,
    source: list[str],
    workers: int = 1,
    is_ready: Callable[[str], bool] = ready,
    scheme: str = "http",
    **env: str,
) -> Served:
    """`onshi serve SOURCE` on a free port, state and log under tmp_path, every worker started
    (`is_ready(url)` tells when it answers)."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ONSHI), "serve", *source, "--port", str(port), "--workers", str(workers)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ONSHI_STATE_DIR": str(tmp_path / "state"), **env},
        )
    served = Served(process, port, f"{scheme}://127.0.0.1:{port}", tmp_path / "state", log)
    try:
        wait_ready(served.url, process, is_ready=is_ready)
        wait_all_started(served.output, workers)
    except BaseException:
        served.kill_if_running()
        raise
    return served


class HeldRequest:
    """A confirmation sent up to the middle of its body; `finish` sends the rest and reads the answer."""

    def __init__(self, port: int, request_id: str, body: dict[str, Any] | None = None) -> None:
        self.request_id = request_id
        payload = json.dumps({"institution_code": CLINIC_CODE, **(body or CARD_1)}).encode()
        head = (
            "POST /v1/confirmations HTTP/1.1\r\nHost: onshi\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {CLINIC_KEY}\r\nX-Request-ID: {request_id}\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        ).encode()
        half = len(payload) // 2
        self.rest = payload[half:]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(head + payload[:half])

    def finish(self) -> tuple[int, Any]:
        self.sock.sendall(self.rest)
        answer = b""
        while chunk := self.sock.recv(65536):
            answer += chunk
        self.sock.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head else 0
        return status, json.loads(body) if body else None

    def abandon(self) -> None:
        self.sock.close()


def stop_with_work_in_flight(process: subprocess.Popen[bytes], port: int, drain: float) -> set[str]:
    """SIGTERM a server (started with ONSHI_DRAIN_SECONDS=drain) while requests are in flight.

    Checks that readiness ends at once, that confirmations are answered through the drain,
    that the listener closes only after it, that every request in flight is answered and
    that the process exits 0. Returns the request ids of every confirmation decided, for
    the caller to find in its access log.
    """
    url = f"http://127.0.0.1:{port}"
    before = [f"before-{i}" for i in range(20)]
    for rid in before:
        assert confirm(url, rid)[0] == 200
    held = [HeldRequest(port, f"held-{i}") for i in range(4)]
    time.sleep(0.2)  # the server has read their headers: these requests are in flight

    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    # At once: not ready (every worker), while confirmations are still answered.
    wait_until(lambda: http(url + "/v1/readyz")[0] == 503, 1.0, "readyz answers 503")
    assert http(url + "/v1/readyz") == (503, {"status": "stopping"})
    during = [f"drain-{i}" for i in range(10)]
    for rid in during:
        assert confirm(url, rid)[0] == 200
    # The listener closes once the drain is over, not before.
    wait_until(lambda: refuses_connections(port), drain + 3, "the listener closes")
    assert time.monotonic() - signalled >= drain - 0.1
    # The requests accepted before that are still answered, and the process then exits 0.
    for request in held:
        status, answer = request.finish()
        assert status == 200 and answer["code"] == "VALID", answer
    assert process.wait(15) == 0
    return {*before, *during, *(r.request_id for r in held)}


def logged_request_ids(access_log_csv: Path) -> set[str]:
    """The request ids in a `--data`/`--snapshot` mode access log (service/accesslog.py)."""
    if not access_log_csv.exists():
        return set()
    return {line.split(",")[4] for line in access_log_csv.read_text(encoding="utf-8").splitlines()}


def personal_values(data_dir: Path = EXAMPLES / "data") -> set[str]:
    """Every symbol, number, branch, certificate serial, name and birthdate of a data set,
    the birthdates also as YYYYMMDD."""

    def column(file: str, *names: str) -> Iterable[str]:
        with (data_dir / file).open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                yield from (row[name] for name in names if row[name])

    values = set(column("qualifications.csv", "symbol", "number", "branch"))
    values |= set(column("certificates.csv", "certificate_serial"))
    values |= set(column("persons.csv", "name", "name_kana"))
    birthdates = set(column("persons.csv", "birthdate"))
    return values | birthdates | {b.replace("-", "") for b in birthdates}


def disclosed(log_text: str, values: set[str]) -> set[str]:
    """The values found in a log.

    A value of three characters or more counts when it stands as a whole token (not inside
    a longer run of letters and digits); a shorter one (a branch "00", a number "1") only
    in quotes, as a logged body or repr would carry it: as a bare token it would be found
    in every count and date. In a JSON log the generated fields (`ts`, `pid`) are left out.
    """
    texts = []
    for line in log_text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            texts.append(line)
            continue
        if isinstance(entry, dict):
            entry.pop("ts", None)
            entry.pop("pid", None)
        texts.append(json.dumps(entry, ensure_ascii=False))
    text = "\n".join(texts)

    def found(value: str) -> bool:
        if len(value) < 3:
            return any(f"{q}{value}{q}" in text for q in ('\\"', "'"))
        return re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text) is not None

    return {v for v in values if found(v)}


def hammer(
    port: int, key: str, institution: str, seconds: float, connections: int
) -> list[tuple[int, str | None]]:
    """`connections` keep-alive clients sending one institution's card-path confirmations as
    fast as they are answered for `seconds`; each answer's status and Retry-After."""
    import http.client
    import threading

    body = json.dumps({"institution_code": institution, **CARD_1}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    answers: list[tuple[int, str | None]] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.monotonic() < deadline:
            conn.request("POST", "/v1/confirmations", body, headers)
            response = conn.getresponse()
            response.read()
            mine.append((response.status, response.getheader("Retry-After")))
        conn.close()
        answers.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    return answers


def assert_one_key_limited(url: str, port: int) -> None:
    """Against a server with ONSHI_RATE_LIMIT=50: 16 connections hammering the clinic's key
    for 2 s get 50-205 answers and 429s with Retry-After for the rest, while the pharmacy,
    one confirmation every 50 ms, is never refused."""
    from concurrent.futures import ThreadPoolExecutor

    def polite() -> list[int]:
        statuses = []
        headers = {"Authorization": "Bearer demo-key-pharmacy", "Content-Type": "application/json"}
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            body = {"institution_code": "2740000029", **CARD_1}
            statuses.append(http(f"{url}/v1/confirmations", body, headers)[0])
            time.sleep(0.05)
        return statuses

    with ThreadPoolExecutor(1) as pool:
        pharmacy = pool.submit(polite)
        answers = hammer(port, CLINIC_KEY, CLINIC_CODE, 2, 16)
        others = pharmacy.result()
    statuses = [status for status, _ in answers]
    print(f"one key, 16 connections, 2 s: {statuses.count(200)} answered, {statuses.count(429)} refused")
    assert set(statuses) <= {200, 429}
    # 50 at once (the burst), then 50 a second: about 150 in 2 s, all workers together.
    assert 50 <= statuses.count(200) <= 205
    assert statuses.count(429) > 100
    assert all(
        after is not None and after.isdigit() and int(after) >= 1
        for status, after in answers
        if status == 429
    )
    assert len(others) > 20 and set(others) == {200}  # never slowed by the clinic's flood


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant (the supervisor first, so it replaces nobody)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    order, queue = [], [pid]
    while queue:
        current = queue.pop()
        order.append(current)
        queue.extend(children.get(current, []))
    for each in order:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)


def copy_examples(folder: Path) -> Path:
    """The public examples' data set, copied to `folder` to be changed."""
    shutil.copytree(EXAMPLES / "data", folder)
    return folder


def with_rate_limit(institutions_csv: Path, rates: dict[str, str]) -> None:
    """Add the optional rate_limit column to an institutions.csv, set for `rates`' codes."""
    with institutions_csv.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with institutions_csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, [*rows[0], "rate_limit"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "rate_limit": rates.get(row["institution_code"], "")})


def fill(path: Path) -> None:
    """Write zeros to `path` until its disk is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)


def every_worker_ready(base_url: str, within: float = 30) -> None:
    """Wait until /v1/readyz answers 200 twenty times in a row: each request lands on a
    worker the kernel picks, so every worker has its data (a worker logs its snapshot
    mapped a moment before it serves it)."""
    wait_until(lambda: all(ready(base_url) for _ in range(20)), within, "every worker is ready")
