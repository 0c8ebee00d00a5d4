"""Reads from a streaming standby: a throwaway primary, a standby made with pg_basebackup -R.

`onshi snapshot build` reads the standby; `onshi serve --snapshot FILE --database-url PRIMARY
--database-read-url STANDBY` listens and logs on the primary and reads changes from the
standby, answering a change only once the standby has replayed it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core_ext import open_snapshot
from tests.db.cluster import Cluster, available, standby_of
from tests.db.conftest import query, url_for
from tests.db.server import Server
from tests.db.test_follow_snapshot_file import (
    CARD_1,
    DEREGISTRATION,
    ENROLMENT,
    MAPPED,
    NEW_MEMBER,
    build_snapshot,
    last_seq,
)
from tests.processes import assert_examples_pass, every_worker_ready, wait_all_started, wait_until

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


@pytest.fixture(scope="module")
def replicated() -> Iterator[tuple[str, str]]:
    """(primary URL, standby URL) of a database holding the public examples."""
    primary = Cluster().init()
    primary.start()
    standby = None
    try:
        primary_url = primary.examples_database()
        standby = standby_of(primary)
        standby_url = url_for(standby.url, "onshi")
        assert query(standby_url, "SELECT pg_is_in_recovery() AS r")[0]["r"] is True
        wait_until(
            lambda: last_seq(standby_url) == last_seq(primary_url), 10, "the standby replays the import"
        )
        yield primary_url, standby_url
    finally:
        if standby is not None:
            standby.remove()
        primary.remove()


def replayed(primary_url: str, standby_url: str) -> None:
    wait_until(lambda: last_seq(standby_url) == last_seq(primary_url), 10, "the standby replays")


def serve(primary_url: str, standby_url: str, file: Path, state: Path, workers: int = 2) -> Server:
    args = ["--snapshot", str(file), "--database-read-url", standby_url, "--workers", str(workers)]
    server = Server(primary_url, state, *args, ONSHI_STALE_AFTER_SECONDS="1").start()
    wait_all_started(server.log, workers, MAPPED)
    every_worker_ready(server.url)
    return server


def test_a_snapshot_is_built_from_the_standby(replicated: tuple[str, str], tmp_path: Path) -> None:
    primary_url, standby_url = replicated
    seq = build_snapshot(standby_url, tmp_path / "s.snap")
    assert seq == last_seq(primary_url) == open_snapshot(tmp_path / "s.snap").seq


def test_two_workers_serve_a_file_and_follow_through_the_standby(
    replicated: tuple[str, str], tmp_path: Path
) -> None:
    primary_url, standby_url = replicated
    published = tmp_path / "published.snap"
    build_snapshot(standby_url, published)
    server = serve(primary_url, standby_url, published, tmp_path / "state")
    try:
        assert_examples_pass(server.url)
        assert server.upsert(DEREGISTRATION)[0] == 200  # written on the primary
        seconds = wait_until(
            lambda: all(server.confirm(CARD_1)[1]["code"] == "NOT_REGISTERED" for _ in range(6)),
            1.0,
            "the deregistration answered",
        )
        print(f"an upsert on the primary answered through the standby after {seconds * 1000:.0f} ms")
        replayed(primary_url, standby_url)
        newer = tmp_path / "newer.snap"
        newer_seq = build_snapshot(standby_url, newer)
        mapped = server.log().count(MAPPED)
        os.replace(newer, published)
        wait_until(
            lambda: server.log().count(MAPPED) >= mapped + 2, 1.5, "both workers mapped the newer file"
        )
        assert server.get("/v1/snapshot")[1]["applied_change_seq"] >= newer_seq
        assert server.confirm(CARD_1)[1]["code"] == "NOT_REGISTERED"
    finally:
        assert server.stop() == 0
    # The access log went to the primary (a standby refuses writes).
    assert query(primary_url, "SELECT count(*) AS n FROM access_log")[0]["n"] > 0


def test_a_standby_that_is_behind_is_not_answered_as_current(
    replicated: tuple[str, str], tmp_path: Path
) -> None:
    primary_url, standby_url = replicated
    published = tmp_path / "published.snap"
    build_snapshot(standby_url, published)
    server = serve(primary_url, standby_url, published, tmp_path / "state", workers=1)
    try:
        assert server.confirm(NEW_MEMBER)[1]["code"] == "NOT_FOUND"
        assert server.confirm(NEW_MEMBER)[1]["warnings"] == []
        query(standby_url, "SELECT pg_wal_replay_pause()")
        try:
            status, answer = server.upsert(ENROLMENT)
            assert status == 200, answer
            time.sleep(1.5)  # past the stale bound
            held = server.confirm(NEW_MEMBER)[1]
            assert held["code"] == "NOT_FOUND" and "SNAPSHOT_STALE" in held["warnings"]
            status, snap = server.get("/v1/snapshot")
            assert snap["applied_change_seq"] < answer["change_seq"] and snap["lag_seconds"] > 1
            assert "the read side is behind the primary" in server.log()
        finally:
            query(standby_url, "SELECT pg_wal_replay_resume()")
        wait_until(lambda: server.confirm(NEW_MEMBER)[1]["code"] == "VALID", 3.0, "answered once replayed")
        assert server.confirm(NEW_MEMBER)[1]["warnings"] == []
        assert server.get("/v1/snapshot")[1]["lag_seconds"] < 1
    finally:
        assert server.stop() == 0
