"""A stop by SIGTERM, served from files (`--data`, `--snapshot`), with one and two workers:
not ready at once, answering through the drain, every request in flight answered and logged,
exit code 0; a request that never completes holds the stop no longer than the timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.processes import (
    ONSHI,
    HeldRequest,
    confirm,
    free_port,
    logged_request_ids,
    refuses_connections,
    serve,
    stop_with_work_in_flight,
    wait_until,
)

pytestmark = pytest.mark.slow  # real server processes
DRAIN = 1.5


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("snapshot") / "examples.snap"
    subprocess.run(
        [str(ONSHI), "snapshot", "build", "--data", str(EXAMPLES / "data"), "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@pytest.fixture(params=["data", "snapshot"])
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    if request.param == "data":
        return ["--data", str(EXAMPLES / "data")]
    return ["--snapshot", str(request.getfixturevalue("snapshot_file"))]


@pytest.fixture
def stopped_at_end() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.mark.parametrize("workers", [1, 2], ids=lambda n: f"workers={n}")
def test_sigterm_drains_finishes_in_flight_work_and_exits_0(
    tmp_path: Path, source: list[str], workers: int, stopped_at_end: list[subprocess.Popen[bytes]]
) -> None:
    served = serve(tmp_path, source, workers, ONSHI_DRAIN_SECONDS=str(DRAIN))
    stopped_at_end.append(served.process)
    decided = stop_with_work_in_flight(served.process, served.port, DRAIN)
    assert logged_request_ids(served.state / "access-log.csv") >= decided


@pytest.mark.parametrize("workers", [1, 2], ids=lambda n: f"workers={n}")
def test_a_request_that_never_completes_holds_the_stop_no_longer_than_the_timeout(
    tmp_path: Path, workers: int, stopped_at_end: list[subprocess.Popen[bytes]]
) -> None:
    served = serve(tmp_path, ["--data", str(EXAMPLES / "data")], workers, ONSHI_SHUTDOWN_TIMEOUT="1")
    stopped_at_end.append(served.process)
    assert confirm(served.url, "answered")[0] == 200
    stuck = [HeldRequest(served.port, f"stuck-{i}") for i in range(workers * 2)]
    time.sleep(0.2)
    signalled = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(15) == 0, served.output()
    took = time.monotonic() - signalled
    assert 0.9 <= took < 5, took
    assert "Cancel" in served.output()  # uvicorn says it cancelled what was left
    assert "answered" in logged_request_ids(served.state / "access-log.csv")
    for request in stuck:
        request.abandon()


def test_without_a_drain_the_listener_closes_at_once(
    tmp_path: Path, stopped_at_end: list[subprocess.Popen[bytes]]
) -> None:
    served = serve(tmp_path, ["--data", str(EXAMPLES / "data")], 1)
    stopped_at_end.append(served.process)
    held = HeldRequest(served.port, "held")
    time.sleep(0.2)
    signalled = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    wait_until(lambda: refuses_connections(served.port), 2, "the listener closes")
    assert time.monotonic() - signalled < 1.5
    assert held.finish()[0] == 200
    assert served.process.wait(15) == 0
    assert "held" in logged_request_ids(served.state / "access-log.csv")


def children(pid: int) -> set[int]:
    """The worker processes of a supervisor (not multiprocessing's resource tracker)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        pids = {int(p) for p in f.read().split()}
    return {p for p in pids if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()}


def test_a_worker_that_dies_is_replaced_and_the_stop_is_still_clean(
    tmp_path: Path, stopped_at_end: list[subprocess.Popen[bytes]]
) -> None:
    served = serve(tmp_path, ["--data", str(EXAMPLES / "data")], 2)
    stopped_at_end.append(served.process)
    workers = children(served.process.pid)
    assert len(workers) == 2
    killed = min(workers)
    os.kill(killed, signal.SIGKILL)
    wait_until(lambda: len(children(served.process.pid) - {killed}) == 2, 30, "a new worker starts")
    for i in range(20):  # both workers answer (the kernel spreads the connections)
        assert confirm(served.url, f"after-{i}")[0] == 200
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(15) == 0, served.output()
    assert "died (exit code -9): starting another" in served.output()


def test_a_stop_while_workers_are_still_starting_is_clean(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(ONSHI), "serve", "--data", str(EXAMPLES / "data"), "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ONSHI_STATE_DIR": str(tmp_path / "state")},
    )
    wait_until(lambda: len(children(process.pid)) == 2, 30, "both workers are spawned")
    process.send_signal(signal.SIGTERM)  # before they have imported anything
    assert process.wait(15) == 0
