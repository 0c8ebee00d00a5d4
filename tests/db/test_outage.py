"""PostgreSQL goes away and comes back: answers continue, SNAPSHOT_STALE appears, no record is lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.db.cluster import Cluster, available
from tests.db.conftest import query
from tests.db.server import Server

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

CARD_1 = {"presented": "myna_card", "certificate_serial": "ABCDEF0000000001", "auth_method": "face"}


def send(server: Server, label: str, count: int) -> list[list[str]]:
    """`count` confirmations; every one must be answered 200. Returns their warnings."""
    warnings = []
    for i in range(count):
        status, answer = server.confirm(CARD_1, request_id=f"{label}-{i}")
        assert status == 200, answer
        assert answer["code"] == "VALID"
        warnings.append(answer["warnings"])
    return warnings


def test_outage_keeps_answering_and_loses_no_access_record(cluster: Cluster, tmp_path: Path) -> None:
    url = cluster.examples_database()
    state = tmp_path / "state"
    server = Server(url, state, ONSHI_STALE_AFTER_SECONDS="1").start()
    try:
        assert send(server, "before", 50) == [[]] * 50
        time.sleep(1.2)  # the writer has flushed "before"
        cluster.stop()
        during = send(server, "during", 25)
        time.sleep(1.5)  # past the stale bound; the writer has tried and kept its files
        during += send(server, "during-stale", 25)
        assert all("SNAPSHOT_STALE" in w for w in during[25:]), during[25:]
        assert server.get("/v1/snapshot")[1]["lag_seconds"] > 1
        assert server.get("/v1/healthz")[0] == 200
        assert list(state.glob("access-log.sealed.*"))  # kept in files meanwhile
        cluster.start()
        deadline = time.monotonic() + 15  # the follower reconnects with backoff (at most 5 s)
        while "SNAPSHOT_STALE" in server.confirm(CARD_1, request_id="probe")[1]["warnings"]:
            assert time.monotonic() < deadline, "still stale after the database came back"
            time.sleep(0.2)
        assert send(server, "after", 50) == [[]] * 50
    finally:
        server.stop()
    ids = {r["request_id"] for r in query(url, "SELECT request_id FROM access_log")}
    for label, count in (("before", 50), ("during", 25), ("during-stale", 25), ("after", 50)):
        missing = {f"{label}-{i}" for i in range(count)} - ids
        assert not missing, (label, sorted(missing)[:5])
    assert not list(state.glob("access-log.*"))  # all saved
