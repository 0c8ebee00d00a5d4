"""The folder bridge against a real two-worker server: every public number-path example written
into req/ (Shift_JIS and UTF-8) is answered in res/ as the JSON API answers it; bulk in two
phases through the folders; unreadable requests and an absent server answered with
SegmentOfResult 9 and moved aside; a file still being written is not read."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.oqs.bridge import FAILED_FOLDER, Bridge
from tests.processes import ONSHI, Served, free_port, http, serve
from tests.service.oqs.oqsclient import (
    CLINIC,
    compare,
    first_day_bulk,
    json_request,
    number_path_cases,
    read_xml,
    single_tree,
    xml_of,
)

pytestmark = pytest.mark.slow
CASES = number_path_cases()
KEY = "demo-key-clinic"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from tests.conftest import EXAMPLES

    # The wrong-birthdate example is sent more than five times here: that key's lock is off.
    served = serve(
        tmp_path_factory.mktemp("server"),
        ["--data", str(EXAMPLES / "data")],
        workers=2,
        ONSHI_KEY_MISS_LIMIT="0",
    )
    yield served
    served.kill_if_running()


def json_answer(server: Served, request: dict[str, Any]) -> dict[str, Any]:
    status, answer = http(
        server.url + "/v1/confirmations",
        json_request(request),
        {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    assert status == 200
    return answer  # type: ignore[no-any-return]


def write_renamed(folder: Path, name: str, raw: bytes) -> None:
    temporary = folder / f".{name}.tmp"
    temporary.write_bytes(raw)
    os.replace(temporary, folder / name)


def answer_of(bridge: Bridge, name: str, within: float = 10.0) -> dict[str, Any]:
    res = bridge.folder / "res" / name.replace("req_", "res_", 1)
    deadline = time.monotonic() + within
    while not res.exists():
        assert time.monotonic() < deadline, f"no answer for {name}"
        bridge.look()
        time.sleep(0.05)
    raw = res.read_bytes()
    res.unlink()
    return read_xml(raw)


def test_every_example_through_the_folders(server: Served, tmp_path: Path) -> None:
    bridge = Bridge(tmp_path, server.url, KEY)
    names = {}
    for i, case in enumerate(CASES):
        for codec in ("cp932", "utf-8"):
            name = f"OQSsiquc01req_{i:03d}{codec[:2]}.xml"
            write_renamed(tmp_path / "req", name, xml_of(single_tree(case["request"]), codec))
            names[name] = case["request"]
    for name, request in names.items():
        tree = answer_of(bridge, name)
        assert tree["MessageHeader"]["SegmentOfResult"] == "1"
        assert tree["MessageHeader"]["CharacterCodeIdentifier"] == ("1" if "cp" in name else "0")
        assert compare(json_answer(server, request), tree["MessageBody"]) == [], name
        assert not (tmp_path / "req" / name).exists()  # taken, as the national app does
    assert bridge.answered == len(names) == 2 * len(CASES)


def test_bulk_in_two_phases_through_the_folders(server: Served, tmp_path: Path) -> None:
    bridge = Bridge(tmp_path, server.url, KEY)
    requests, tree = first_day_bulk()
    write_renamed(tmp_path / "req", "OQSmuquc01req_bulk.xml", xml_of(tree, "cp932"))
    number = answer_of(bridge, "OQSmuquc01req_bulk.xml")["MessageBody"]["ReceptionNumber"]
    poll = {"MessageHeader": {"MedicalInstitutionCode": CLINIC}, "MessageBody": {"ReceptionNumber": number}}
    deadline = time.monotonic() + 20
    while True:  # a reception system asks again while SegmentOfResult is 2
        write_renamed(tmp_path / "req", "OQSmuquc02req_bulk.xml", xml_of(poll, "cp932"))
        answer = answer_of(bridge, "OQSmuquc02req_bulk.xml")
        if answer["MessageHeader"]["SegmentOfResult"] == "1":
            break
        assert answer["MessageHeader"]["SegmentOfResult"] == "2" and time.monotonic() < deadline
    units = answer["MessageBody"]["ResultList"]
    units = units if isinstance(units, list) else [units]
    assert len(units) == len(requests) == int(answer["MessageBody"]["NumberOfProcessingResult"])
    for request, unit in zip(requests, units, strict=True):
        unit = unit["BulkConfirmUnit"]
        assert compare(json_answer(server, request), unit) == []


def test_a_file_still_growing_is_not_read(server: Served, tmp_path: Path) -> None:
    bridge = Bridge(tmp_path, server.url, KEY)
    raw = xml_of(single_tree(CASES[0]["request"]), "utf-8")
    path = tmp_path / "req" / "OQSsiquc01req_slow.xml"
    path.write_bytes(raw[:40])
    bridge.look()
    with path.open("ab") as out:
        out.write(raw[40:])
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    bridge.look()  # changed since the last look: still waiting
    assert not list((tmp_path / "res").iterdir()) and not list((tmp_path / FAILED_FOLDER).iterdir())
    assert answer_of(bridge, path.name)["MessageHeader"]["SegmentOfResult"] == "1"


def test_unreadable_requests_are_answered_and_moved_aside(server: Served, tmp_path: Path) -> None:
    bridge = Bridge(tmp_path, server.url, KEY)
    write_renamed(
        tmp_path / "req", "OQSsiquc01req_bad.xml", b'<?xml version="1.0" encoding="Shift_JIS"?><XmlMsg><Mess'
    )
    write_renamed(tmp_path / "req", "OQSsiquc01req_empty.xml", b"")
    for name, code in [
        ("OQSsiquc01req_bad.xml", "MALFORMED_XML"),
        ("OQSsiquc01req_empty.xml", "MALFORMED_XML"),
    ]:
        head = answer_of(bridge, name)["MessageHeader"]
        assert (head["SegmentOfResult"], head["ErrorCode"]) == ("9", code) and head["ErrorMessage"]
        assert (tmp_path / FAILED_FOLDER / name).exists() and not (tmp_path / "req" / name).exists()
    bridge.look()
    bridge.look()
    assert not list((tmp_path / "res").iterdir())  # nothing answered twice


def test_an_absent_server_is_tried_then_answered(tmp_path: Path) -> None:
    bridge = Bridge(tmp_path, f"http://127.0.0.1:{free_port()}", KEY, give_up=0.3)
    write_renamed(tmp_path / "req", "OQSsiquc01req_x.xml", xml_of(single_tree(CASES[0]["request"]), "cp932"))
    bridge.look()
    bridge.look()  # first try: no connection; tried again later
    assert (tmp_path / "req" / "OQSsiquc01req_x.xml").exists()
    for pending in bridge.seen.values():
        pending.next_try = 0.0
    time.sleep(0.35)
    head = answer_of(bridge, "OQSsiquc01req_x.xml")["MessageHeader"]
    assert (head["SegmentOfResult"], head["ErrorCode"], head["CharacterCodeIdentifier"]) == (
        "9",
        "SERVER_UNAVAILABLE",
        "1",
    )
    assert (tmp_path / FAILED_FOLDER / "OQSsiquc01req_x.xml").exists()


def test_the_command(server: Served, tmp_path: Path) -> None:
    (tmp_path / "req").mkdir()  # as a reception system's folder is, before the bridge first runs
    write_renamed(
        tmp_path / "req", "OQSsiquc01req_cli.xml", xml_of(single_tree(CASES[0]["request"]), "cp932")
    )
    process = subprocess.Popen(
        [str(ONSHI), "oqs-bridge", "--dir", str(tmp_path), "--url", server.url, "--interval", "0.05"],
        env={**os.environ, "ONSHI_API_KEY": KEY},
    )
    try:
        res = tmp_path / "res" / "OQSsiquc01res_cli.xml"
        deadline = time.monotonic() + 15
        while not res.exists():
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        assert read_xml(res.read_bytes())["MessageBody"]["QualificationValidity"] == "1"
    finally:
        process.terminate()
        process.wait(10)
    missing_key = subprocess.run(
        [str(ONSHI), "oqs-bridge", "--dir", str(tmp_path), "--url", server.url],
        env={k: v for k, v in os.environ.items() if k != "ONSHI_API_KEY"},
        capture_output=True,
        timeout=30,
    )
    assert missing_key.returncode == 2 and b"ONSHI_API_KEY" in missing_key.stderr
