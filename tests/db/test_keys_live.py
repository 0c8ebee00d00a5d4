"""Keys that change live through upserts (two workers, served from PostgreSQL): a key
replaced outright, and a rotation where old and new overlap until the old is revoked;
each change in every worker within a second."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import CARD_1, CLINIC_CODE, every_worker_ready, http, wait_all_started

pytestmark = pytest.mark.slow
MAPPED = " mapped in "
NEW_KEY = "rotated-clinic-key-" + "k" * 24


def _status(server: Server, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return http(f"{server.url}/v1/confirmations", {"institution_code": CLINIC_CODE, **CARD_1}, headers)[0]


def test_a_replaced_key_is_refused_within_a_second(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state", "--workers", "2").start()
    try:
        wait_all_started(server.log, 2, MAPPED)
        every_worker_ready(server.url)
        assert _status(server, "demo-key-clinic") == 200
        assert _status(server, NEW_KEY) == 401
        row = {"institution_code": CLINIC_CODE, "name": "北浜内科クリニック", "api_key": NEW_KEY}
        assert server.upsert({"institutions": [row]})[0] == 200
        # Every worker: a few answers in a row of each (each worker answers about half).
        _until(
            lambda: all(
                _status(server, NEW_KEY) == 200 and _status(server, "demo-key-clinic") == 401
                for _ in range(8)
            ),
            "the new key",
        )
        # Both workers answer alike: ask a few times (each answers about half).
        assert {_status(server, "demo-key-clinic") for _ in range(20)} == {401}
        assert {_status(server, NEW_KEY) for _ in range(20)} == {200}
    finally:
        server.stop()


def _until(check: object, what: str) -> float:
    started = time.monotonic()
    while not check():  # type: ignore[operator]
        assert time.monotonic() - started < 1.0, f"{what} took longer than a second"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_rotation_overlaps_then_the_old_key_is_revoked(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state", "--workers", "2").start()
    old = "demo-key-clinic"
    try:
        wait_all_started(server.log, 2, MAPPED)
        every_worker_ready(server.url)
        row = {"institution_code": CLINIC_CODE, "name": "北浜内科クリニック", "api_key": NEW_KEY}
        assert server.upsert({"institutions": [{**row, "api_key_previous": old}]})[0] == 200
        # Every worker: a few answers in a row (each worker answers about half of them).
        _until(lambda: all(_status(server, NEW_KEY) == 200 for _ in range(8)), "the new key")
        assert {_status(server, key) for key in (old, NEW_KEY) for _ in range(10)} == {200}  # overlap
        stored = query(loaded, "SELECT * FROM institutions WHERE institution_code = $1", CLINIC_CODE)[0]
        assert old not in str(dict(stored)) and NEW_KEY not in str(dict(stored))  # hashes only
        assert server.upsert({"institutions": [row]})[0] == 200  # revoke the previous key
        _until(lambda: all(_status(server, old) == 401 for _ in range(8)), "the revocation")
        assert {_status(server, old) for _ in range(20)} == {401}
        assert {_status(server, NEW_KEY) for _ in range(20)} == {200}
    finally:
        server.stop()


def test_a_previous_key_of_another_institution_is_refused(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state").start()
    try:
        row = {
            "institution_code": CLINIC_CODE,
            "name": "X",
            "api_key": NEW_KEY,
            "api_key_previous": "demo-key-pharmacy",
        }
        status, answer = server.upsert({"institutions": [row]})
        assert status == 422, answer
        assert "institutions[0]: api_key_previous: the same key is issued to another institution" in str(
            answer
        )
    finally:
        server.stop()


def test_a_short_key_is_refused_by_an_upsert_even_a_demo_one(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state").start()
    try:
        row = {"institution_code": CLINIC_CODE, "name": "X", "api_key": "demo-key-short"}
        status, answer = server.upsert({"institutions": [row]})
        assert status == 422 and "institutions[0]: api_key: shorter than 22 characters" in str(answer)
    finally:
        server.stop()
