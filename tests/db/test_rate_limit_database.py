"""ONSHI_RATE_LIMIT served from PostgreSQL with two workers (the issue's own setting)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.db.server import Server
from tests.processes import assert_one_key_limited, wait_all_started

pytestmark = pytest.mark.slow
MAPPED = " mapped in "  # the follower's log line once a worker maps the snapshot


def test_one_key_is_limited_across_workers_and_another_is_not(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state", "--workers", "2", ONSHI_RATE_LIMIT="50").start()
    try:
        wait_all_started(server.log, 2, MAPPED)
        assert_one_key_limited(server.url, server.port)
    finally:
        server.stop()
