"""`onshi serve --snapshot FILE --database-url URL`: a published file is the base, the database's
changes after it are answered from the overlay, and a newer file renamed over FILE is taken up."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

from core_ext import open_snapshot
from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import ONSHI, assert_examples_pass, every_worker_ready, wait_all_started, wait_until

CARD_1 = {"presented": "myna_card", "certificate_serial": "ABCDEF0000000001", "auth_method": "face"}
NEW_MEMBER = {
    "presented": "unspecified",
    "insurer_number": "06270011",
    "symbol": "7-10",
    "number": "999",
    "birthdate": "1990-02-02",
}
DEREGISTRATION = {
    "registrations": [
        {"person_id": 1, "registered_on": "2021-10-20", "deregistration_requested_on": "2026-09-01"}
    ]
}
ENROLMENT = {
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
MAPPED = " mapped in "  # in the follower's log line when it maps a file


def build_snapshot(database_url: str, out: Path) -> int:
    """`onshi snapshot build --database-url`; the change seq it reports."""
    done = subprocess.run(
        [str(ONSHI), "snapshot", "build", "--database-url", database_url, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = re.search(r"change seq (\d+)", done.stdout)
    assert found is not None, done.stdout
    return int(found.group(1))


def last_seq(database_url: str) -> int:
    return int(query(database_url, "SELECT max(seq) AS seq FROM change_log")[0]["seq"])


def test_a_file_built_from_the_database_records_its_change_seq(loaded: str, tmp_path: Path) -> None:
    seq = build_snapshot(loaded, tmp_path / "a.snap")
    assert seq == last_seq(loaded) == open_snapshot(tmp_path / "a.snap").seq


def test_two_workers_follow_a_file_then_take_up_a_newer_one(loaded: str, tmp_path: Path) -> None:
    published = tmp_path / "published.snap"
    first_seq = build_snapshot(loaded, published)
    server = Server(loaded, tmp_path / "state", "--snapshot", str(published), "--workers", "2").start()
    try:
        wait_all_started(server.log, 2, MAPPED)
        every_worker_ready(server.url)
        assert_examples_pass(server.url)
        status, snap = server.get("/v1/snapshot")
        assert status == 200 and snap["source"] == "database" and snap["applied_change_seq"] == first_seq
        first_version = snap["version"]

        # A change after the file: answered from the overlay, by every worker, within 1 s.
        assert server.upsert(DEREGISTRATION)[0] == 200
        wait_until(
            lambda: all(server.confirm(CARD_1)[1]["code"] == "NOT_REGISTERED" for _ in range(6)),
            1.0,
            "the deregistration answered",
        )

        # A newer file (with the deregistration), then a change made after it was built.
        newer = tmp_path / "newer.snap"
        newer_seq = build_snapshot(loaded, newer)
        status, answer = server.upsert(ENROLMENT)
        assert status == 200 and answer["change_seq"] > newer_seq
        wait_until(lambda: server.confirm(NEW_MEMBER)[1]["code"] == "VALID", 1.0, "the enrolment answered")
        mapped_before = server.log().count(MAPPED)
        os.replace(newer, published)
        renamed = time.monotonic()
        wait_until(lambda: server.log().count(MAPPED) >= mapped_before + 2, 1.5, "both workers mapped it")
        print(f"both workers took up the new file {time.monotonic() - renamed:.2f} s after the rename")

        # Swapped without losing the change made after the build, on every worker.
        for _ in range(8):
            status, snap = server.get("/v1/snapshot")
            assert snap["version"] != first_version and snap["applied_change_seq"] >= answer["change_seq"]
            assert server.confirm(NEW_MEMBER)[1]["code"] == "VALID"
            assert server.confirm(CARD_1)[1]["code"] == "NOT_REGISTERED"
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as r:
            assert re.search(r"^onshi_overlay_persons \d", r.read().decode(), re.MULTILINE)
    finally:
        assert server.stop() == 0
    log = server.log()
    assert "rebuil" not in log.lower() and "loaded from the database" not in log  # no worker built a base


def test_what_no_overlay_answers_waits_for_a_newer_file(loaded: str, tmp_path: Path) -> None:
    published = tmp_path / "published.snap"
    build_snapshot(loaded, published)
    server = Server(loaded, tmp_path / "state", "--snapshot", str(published)).start()
    try:
        query(loaded, "INSERT INTO insurers VALUES ('01130012', '新しい保険者', NULL)")
        wait_until(lambda: "a newer snapshot file is due: an insurer change" in server.log(), 2.0, "due")
        assert server.confirm(CARD_1)[1]["code"] == "VALID"  # still answering from the file
        newer = tmp_path / "newer.snap"
        newer_seq = build_snapshot(loaded, newer)
        os.replace(newer, published)
        wait_until(lambda: server.get("/v1/snapshot")[1]["applied_change_seq"] == newer_seq, 1.5, "new file")
    finally:
        assert server.stop() == 0


def test_an_unreadable_file_is_refused_before_serving(loaded: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.snap"
    bad.write_bytes(b"not a snapshot file, but longer than its header")
    server = Server(loaded, tmp_path / "state", "--snapshot", str(bad))
    done = subprocess.run(server.args, capture_output=True, text=True, env=server.env, timeout=60)
    assert done.returncode == 1 and "not an Onshi snapshot file" in done.stderr
    assert "nothing served" in done.stderr


def test_with_the_database_alone_one_worker_writes_the_file_every_worker_maps(
    loaded: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    server = Server(loaded, state, "--workers", "2").start()
    try:
        wait_all_started(server.log, 2, MAPPED)
        every_worker_ready(server.url)
        assert_examples_pass(server.url)
        assert server.log().count("this worker publishes") == 1
        assert server.log().count("snapshot written to") == 1
        assert open_snapshot(state / "snapshot.onshi").seq == last_seq(loaded)
        # A change no overlay answers: the publisher writes a newer file, both workers map it.
        query(loaded, "INSERT INTO insurers VALUES ('01130012', '新しい保険者', NULL)")
        wait_until(lambda: server.log().count(MAPPED) >= 4, 3.0, "both workers mapped the newer file")
        assert server.log().count("snapshot written to") == 2
        assert server.upsert(DEREGISTRATION)[0] == 200
        wait_until(
            lambda: all(server.confirm(CARD_1)[1]["code"] == "NOT_REGISTERED" for _ in range(6)),
            1.0,
            "the deregistration answered",
        )
    finally:
        assert server.stop() == 0
