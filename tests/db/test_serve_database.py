"""`onshi serve --database-url`: examples pass, upserts are answered within 1 s, nothing logged is lost."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import assert_examples_pass

CARD_1 = {"presented": "myna_card", "certificate_serial": "ABCDEF0000000001", "auth_method": "face"}
NEW_MEMBER = {
    "presented": "unspecified",
    "insurer_number": "06270011",
    "symbol": "7-10",
    "number": "999",
    "birthdate": "1990-02-02",
}


@pytest.fixture
def server(loaded: str, tmp_path: Path) -> Iterator[Server]:
    s = Server(loaded, tmp_path / "state").start()
    try:
        yield s
    finally:
        if s.process and s.process.poll() is None:
            s.stop()


def wait_for(check: Any, within: float) -> float:
    """Seconds until `check()` is true; fails after `within`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, "not visible in time"
        time.sleep(0.01)
    return time.monotonic() - started


def test_public_examples_pass_from_the_database(server: Server) -> None:
    assert_examples_pass(server.url)
    status, snap = server.get("/v1/snapshot")
    assert status == 200 and snap["source"] == "database" and snap["applied_change_seq"] == 1


def test_deregistration_and_enrolment_are_answered_within_a_second(server: Server) -> None:
    assert server.confirm(CARD_1)[1]["code"] == "VALID"
    assert server.confirm(NEW_MEMBER)[1]["code"] == "NOT_FOUND"
    status, answer = server.upsert(
        {
            "registrations": [
                {"person_id": 1, "registered_on": "2021-10-20", "deregistration_requested_on": "2026-09-01"}
            ]
        }
    )
    assert status == 200, answer
    seconds = wait_for(lambda: server.confirm(CARD_1)[1]["code"] == "NOT_REGISTERED", within=1.0)
    print(f"deregistration visible after {seconds * 1000:.0f} ms")
    status, answer = server.upsert(
        {
            "persons": [{"person_id": 900, "name": "新規 花子", "sex": 2, "birthdate": "1990-02-02"}],
            "qualifications": [
                {
                    "qualification_id": 9001,
                    "person_id": 900,
                    "insurer_number": "06270011",
                    "symbol": "7-10",
                    "number": "999",
                    "branch": "00",
                    "relationship": 1,
                    "acquired_on": "2026-11-01",
                }
            ],
        }
    )
    assert status == 200, answer
    change_seq = answer["change_seq"]
    seconds = wait_for(lambda: server.confirm(NEW_MEMBER)[1]["code"] == "VALID", within=1.0)
    print(f"enrolment visible after {seconds * 1000:.0f} ms")
    assert server.get("/v1/snapshot")[1]["applied_change_seq"] >= change_seq
    assert server.confirm(NEW_MEMBER)[1]["snapshot"]["applied_change_seq"] >= change_seq


def test_bad_upserts_are_refused_with_every_problem(server: Server) -> None:
    status, answer = server.upsert({"persons": [{"person_id": "x", "sex": 9}]})
    assert status == 422 and answer["error"]["code"] == "VALIDATION_ERROR"
    assert {p.split(":")[1].strip() for p in answer["error"]["problems"]} >= {
        "person_id",
        "sex",
        "name",
        "birthdate",
    }
    status, answer = server.request("POST", "/v1/admin/upserts", {}, {"Authorization": "Bearer wrong"})
    assert status == 401 and answer["error"]["code"] == "UNAUTHENTICATED"


def test_confirmations_before_sigterm_are_all_in_the_access_log(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state").start()
    try:
        for i in range(300):
            assert server.confirm(CARD_1 if i % 2 else NEW_MEMBER, request_id=f"sigterm-{i}")[0] == 200
    finally:
        assert server.stop() == 0  # service/serving.py: a stop is a clean exit
    assert "Application shutdown complete" in server.log()
    rows = query(
        loaded, "SELECT request_id, person_id, code FROM access_log WHERE request_id LIKE 'sigterm-%'"
    )
    assert len(rows) == 300
    assert {r["request_id"] for r in rows} == {f"sigterm-{i}" for i in range(300)}
    assert {(r["person_id"], r["code"]) for r in rows} == {(1, "VALID"), (None, "NOT_FOUND")}
    # Read back after a restart: the member's own view, newest first.
    server = Server(loaded, tmp_path / "state").start()
    try:
        status, records = server.get(
            "/v1/admin/persons/1/access-log?limit=500",
            headers={"Authorization": f"Bearer {server.env['ONSHI_ADMIN_TOKEN']}"},
        )
        assert status == 200 and len(records) == 150
        assert records == sorted(records, key=lambda r: r["at"], reverse=True)
        assert set(records[0]) == {
            "at",
            "institution_code",
            "presented",
            "code",
            "request_id",
            "birthdate_mismatch",
        }
    finally:
        server.stop()


def test_refuses_to_start_without_a_strong_admin_token(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state", ONSHI_ADMIN_TOKEN="short")
    result = subprocess.run(server.args, capture_output=True, text=True, env=server.env, timeout=60)
    assert result.returncode == 2
    assert "ONSHI_ADMIN_TOKEN" in result.stderr
