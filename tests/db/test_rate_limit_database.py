"""ONSHI_RATE_LIMIT served from PostgreSQL with two workers (the issue's own setting)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import (
    CARD_1,
    CLINIC_CODE,
    CLINIC_KEY,
    ONSHI,
    assert_one_key_limited,
    copy_examples,
    every_worker_ready,
    http,
    wait_all_started,
    with_rate_limit,
)

pytestmark = pytest.mark.slow
MAPPED = " mapped in "  # the follower's log line once a worker maps the snapshot


def test_one_key_is_limited_across_workers_and_another_is_not(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state", "--workers", "2", ONSHI_RATE_LIMIT="50").start()
    try:
        wait_all_started(server.log, 2, MAPPED)
        every_worker_ready(server.url)
        assert_one_key_limited(server.url, server.port)
    finally:
        server.stop()


def _confirm(server: Server, key: str, code: str) -> int:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return http(f"{server.url}/v1/confirmations", {"institution_code": code, **CARD_1}, headers)[0]


def test_an_institutions_own_rate_is_imported_and_changed_live(db: str, tmp_path: Path) -> None:
    data = copy_examples(tmp_path / "data")
    with_rate_limit(data / "institutions.csv", {CLINIC_CODE: "3"})
    result = subprocess.run(
        [str(ONSHI), "import", str(data), "--database-url", db], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (
        query(db, "SELECT rate_limit FROM institutions WHERE institution_code = $1", CLINIC_CODE)[0][0] == 3
    )
    server = Server(db, tmp_path / "state").start()  # no ONSHI_RATE_LIMIT: only the clinic's own
    try:
        statuses = [_confirm(server, CLINIC_KEY, CLINIC_CODE) for _ in range(10)]
        assert statuses.count(200) <= 4 and 429 in statuses  # 3 a second, a burst of 3
        assert {_confirm(server, "demo-key-pharmacy", "2740000029") for _ in range(10)} == {200}  # no limit
        new_key = "clinic-key-with-its-own-rate-" + "r" * 8  # an upsert's key: 22 characters at least
        row = {"institution_code": CLINIC_CODE, "name": "北浜内科クリニック", "api_key": new_key}
        assert server.upsert({"institutions": [{**row, "rate_limit": "1000"}]})[0] == 200
        started = time.monotonic()
        while _confirm(server, new_key, CLINIC_CODE) != 200:
            assert time.monotonic() - started < 1.5, "the new rate took longer than a second"
            time.sleep(0.05)
        assert {_confirm(server, new_key, CLINIC_CODE) for _ in range(20)} == {200}
    finally:
        server.stop()
