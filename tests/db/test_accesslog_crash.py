"""SIGKILL of every server process loses no record of an answered confirmation (PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import CARD_1, every_worker_ready, kill_tree, wait_all_started

pytestmark = pytest.mark.slow
MAPPED = " mapped in "
COUNT = 300


def test_every_answered_confirmation_survives_sigkill_of_every_process(loaded: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    server = Server(loaded, state, "--workers", "2").start()
    wait_all_started(server.log, 2, MAPPED)
    every_worker_ready(server.url)
    answered = []
    try:
        for i in range(COUNT):
            status, _ = server.confirm(CARD_1, request_id=f"crash-{i}")
            assert status == 200
            answered.append(f"crash-{i}")
    finally:
        assert server.process is not None
        kill_tree(server.process.pid)
        server.process.wait(10)
    assert len(answered) == COUNT
    # Nothing had a chance to flush on the way out: the records are in the workers' files.
    assert list(state.glob("access-log.unsaved.*"))
    again = Server(loaded, state, "--workers", "2").start()
    wait_all_started(again.log, 2, MAPPED)
    every_worker_ready(again.url)
    assert again.stop() == 0
    ids = [
        r["request_id"]
        for r in query(loaded, "SELECT request_id FROM access_log WHERE request_id LIKE 'crash-%'")
    ]
    assert sorted(ids) == sorted(answered)  # every one, once
    assert not list(state.glob("access-log.*"))
