"""A stop by SIGTERM while serving from PostgreSQL, with one and two workers: the same drain,
every request in flight answered, exit code 0, every decided confirmation in access_log."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import every_worker_ready, stop_with_work_in_flight, wait_all_started

DRAIN = 1.5


@pytest.mark.parametrize("workers", [1, 2], ids=lambda n: f"workers={n}")
def test_sigterm_drains_finishes_in_flight_work_and_records_it(
    loaded: str, tmp_path: Path, workers: int
) -> None:
    server = Server(loaded, tmp_path / "state", ONSHI_DRAIN_SECONDS=str(DRAIN))
    server.args += ["--workers", str(workers)]
    server.start()
    try:
        assert server.process is not None
        # Each worker loads the database itself, after its lifespan has started.
        wait_all_started(server.log, workers, " mapped in ")  # every worker maps the snapshot file
        every_worker_ready(server.url)  # (a worker logs the file mapped a moment before it serves it)
        decided = stop_with_work_in_flight(server.process, server.port, DRAIN)
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)
    logged = {r["request_id"] for r in query(loaded, "SELECT request_id FROM access_log")}
    assert logged >= decided, server.log()
