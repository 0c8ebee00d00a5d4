"""The state directory's disk full while serving from PostgreSQL: confirmations are
refused (503 ACCESS_LOG_UNAVAILABLE) while their records cannot be written to the
worker's unsaved file, and once there is room again every answered confirmation reaches
the access_log table (a 512 KiB tmpfs; needs root to mount)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import CARD_1, fill

pytestmark = pytest.mark.slow


def _stored(url: str) -> set[str]:
    return {r["request_id"] for r in query(url, "SELECT request_id FROM access_log")}


def test_a_full_disk_refuses_then_every_answer_reaches_postgresql(loaded: str, small_disk: Path) -> None:
    server = Server(loaded, small_disk / "state").start()
    try:
        answered = [f"before-{i}" for i in range(5) if server.confirm(CARD_1, f"before-{i}")[0] == 200]
        assert len(answered) == 5
        filler = small_disk / "filler"
        fill(filler)
        first_refused = next(i for i in range(500) if server.confirm(CARD_1, f"full-{i}")[0] == 503)
        answered += [f"full-{i}" for i in range(first_refused)]
        refused = [server.confirm(CARD_1, f"refused-{i}") for i in range(5)]
        assert {(status, answer["error"]["code"]) for status, answer in refused} == {
            (503, "ACCESS_LOG_UNAVAILABLE")
        }
        filler.unlink()
        after = [f"after-{i}" for i in range(5) if server.confirm(CARD_1, f"after-{i}")[0] == 200]
        assert len(after) == 5
        answered += after
        deadline = time.monotonic() + 15
        while not set(answered) <= _stored(loaded):
            assert time.monotonic() < deadline, sorted(set(answered) - _stored(loaded))
            time.sleep(0.2)
    finally:
        server.stop()
    stored = _stored(loaded)
    assert set(answered) <= stored
    # At most the refused record whose line the disk cut in two is completed (decisions.md).
    extra = stored - set(answered)
    assert len(extra) <= 1 and extra <= {f"full-{first_refused}"}, extra
