"""`onshi snapshot build` and `onshi serve --snapshot`: examples pass, reloads never pause or half-answer."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES
from tests.processes import ONSHI, assert_examples_pass, free_port, wait_all_started

pytestmark = pytest.mark.slow  # real server processes
TOKEN = "reload-token-" + "z" * 32
CLINIC = {"Authorization": "Bearer demo-key-clinic", "Content-Type": "application/json"}
PERSON_1 = {
    "institution_code": "2710000019",
    "presented": "myna_card",
    "certificate_serial": "ABCDEF0000000001",
    "auth_method": "face",
    "confirmation_date": "2025-06-01",
}
NEWCOMER = {
    "institution_code": "2710000019",
    "presented": "unspecified",
    "insurer_number": "06270011",
    "symbol": "7-10",
    "number": "999",
    "birthdate": "1990-02-02",
    "confirmation_date": "2025-06-01",
}


def onshi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ONSHI), *args], capture_output=True, text=True, timeout=120)


def build(data: Path, out: Path) -> Path:
    result = onshi("snapshot", "build", "--data", str(data), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "bytes/qualification" in result.stdout
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("snapshots")
    grown = root / "grown"
    shutil.copytree(EXAMPLES / "data", grown)
    with (grown / "persons.csv").open("a", encoding="utf-8") as f:
        f.write("900,新規 花子,シンキ ハナコ,2,1990-02-02\n")
    with (grown / "qualifications.csv").open("a", encoding="utf-8") as f:
        f.write("9001,900,06270011,7-10,999,00,1,2025-04-01,,general,\n")
    return {"a": build(EXAMPLES / "data", root / "a.snap"), "b": build(grown, root / "b.snap")}


class Served:
    def __init__(self, snapshot: Path, state: Path, workers: int = 1) -> None:
        self.port = free_port()
        env = {**os.environ, "ONSHI_ADMIN_TOKEN": TOKEN, "ONSHI_STATE_DIR": str(state)}
        self.log = state / "serve.log"
        state.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(ONSHI),
                    "serve",
                    "--snapshot",
                    str(snapshot),
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.call("GET", "/v1/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and self.process.poll() is None, self.log.read_text()
            time.sleep(0.05)
        wait_all_started(self.log.read_text, workers)

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, None if body is None else json.dumps(body), headers or {})
            r = conn.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            conn.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)


@pytest.fixture
def served(files: dict[str, Path], tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    live = tmp_path / "live.snap"
    shutil.copy(files["a"], live)
    s = Served(live, tmp_path / "state")
    try:
        yield s, live
    finally:
        s.stop()


def test_public_examples_pass_from_a_snapshot_file(served: tuple[Served, Path]) -> None:
    server, _ = served
    assert_examples_pass(f"http://127.0.0.1:{server.port}")
    assert server.call("GET", "/v1/snapshot")[1]["source"] == "snapshot"


def replace(source: Path, live: Path) -> None:
    """What an operator does: write beside, rename over (the old mapping stays valid)."""
    tmp = live.with_suffix(".new")
    shutil.copy(source, tmp)
    os.replace(tmp, live)


def test_reloads_under_load_never_error_or_half_answer(
    served: tuple[Served, Path], files: dict[str, Path]
) -> None:
    server, live = served
    versions = {server.call("GET", "/v1/snapshot")[1]["version"]}
    seen: list[tuple[int, str, str]] = []
    stop = threading.Event()

    def hammer() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)  # one keep-alive connection
        while not stop.is_set():
            conn.request("POST", "/v1/confirmations", json.dumps(PERSON_1), CLINIC)
            r = conn.getresponse()
            answer = json.loads(r.read())
            seen.append((r.status, answer.get("code", ""), answer.get("snapshot", {}).get("version", "")))
        conn.close()

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        for i in range(6):
            target = files["b"] if i % 2 == 0 else files["a"]
            replace(target, live)
            status, facts = server.call("POST", "/v1/admin/reload", {}, {"Authorization": f"Bearer {TOKEN}"})
            assert status == 200, facts
            versions.add(facts["version"])
            expected = "VALID" if target == files["b"] else "NOT_FOUND"
            assert server.call("POST", "/v1/confirmations", NEWCOMER, CLINIC)[1]["code"] == expected
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(10)
    assert len(seen) > 50
    assert {status for status, _, _ in seen} == {200}
    assert {code for _, code, _ in seen} == {"VALID"}
    assert {version for _, _, version in seen} == versions and len(versions) == 2


def test_a_bad_file_is_refused_and_the_old_one_keeps_serving(
    served: tuple[Served, Path], tmp_path: Path
) -> None:
    server, live = served
    before = server.call("GET", "/v1/snapshot")[1]["version"]
    truncated = tmp_path / "truncated.snap"
    truncated.write_bytes(live.read_bytes()[:-10])
    replace(truncated, live)  # never rewrite a served file in place: its pages are mapped
    status, answer = server.call("POST", "/v1/admin/reload", {}, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 422 and "truncated" in answer["error"]["problems"][0]
    assert server.call("POST", "/v1/confirmations", PERSON_1, CLINIC)[1]["code"] == "VALID"
    assert server.call("GET", "/v1/snapshot")[1]["version"] == before
    result = onshi("serve", "--snapshot", str(live), "--port", str(free_port()))
    assert result.returncode == 1 and "truncated" in result.stderr


def test_two_workers_share_one_file(files: dict[str, Path], tmp_path: Path) -> None:
    server = Served(files["a"], tmp_path / "state", workers=2)
    try:
        # Each worker prefixes the request ids it makes up with its own random tag: keep
        # asking (a new connection each time) until both have answered from the file.
        answered_by = set()
        for _ in range(200):
            status, answer = server.call("POST", "/v1/confirmations", PERSON_1, CLINIC)
            assert status == 200 and answer["code"] == "VALID"
            answered_by.add(answer["request_id"].split("-")[0])
            if len(answered_by) == 2:
                break
        assert len(answered_by) == 2
    finally:
        server.stop()


def test_sighup_reloads_the_file(served: tuple[Served, Path], files: dict[str, Path]) -> None:
    server, live = served
    before = server.call("GET", "/v1/snapshot")[1]["version"]
    replace(files["b"], live)
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while server.call("GET", "/v1/snapshot")[1]["version"] == before:
        assert time.monotonic() < deadline, "SIGHUP did not reload"
        time.sleep(0.05)
    assert server.call("POST", "/v1/confirmations", NEWCOMER, CLINIC)[1]["code"] == "VALID"
    assert server.process.poll() is None
