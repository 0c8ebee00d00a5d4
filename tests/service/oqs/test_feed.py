"""The feed of card-path answers (ONSHI_FEED) and the bridge's face folder, on a real two-worker
server: each clinic sees its own card checks the moment they are answered, whichever worker
answered them, resumes after the last one it got, and never sees another clinic's."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.feed import Feed, tokyo_day
from service.oqs.bridge import FACE_FOLDER, Bridge, follow_face
from tests.conftest import EXAMPLES
from tests.processes import CARD_1, Served, http, serve
from tests.service.oqs.oqsclient import CLINIC, PHARMACY, read_xml

pytestmark = pytest.mark.slow
KEYS = {CLINIC: "demo-key-clinic", PHARMACY: "demo-key-pharmacy"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = serve(
        tmp_path_factory.mktemp("feed"), ["--data", str(EXAMPLES / "data")], workers=2, ONSHI_FEED="true"
    )
    yield served
    served.kill_if_running()


def card_check(server: Served, institution: str, request_id: str) -> Any:
    body = {**CARD_1, "institution_code": institution, "confirmation_date": "2025-04-01"}
    headers = {
        "Authorization": f"Bearer {KEYS[institution]}",
        "Content-Type": "application/json",
        "X-Request-ID": request_id,
    }
    status, answer = http(server.url + "/v1/confirmations", body, headers)
    assert status == 200
    return answer


def face_files(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: read_xml(p.read_bytes())
        for p in sorted((folder / FACE_FOLDER).glob("OQSsiquc01res_face_*.xml"))
    }


def wait_for(check: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_each_clinic_gets_its_own_card_checks_in_its_face_folder(server: Served, tmp_path: Path) -> None:
    bridge = Bridge(tmp_path, server.url, KEYS[CLINIC])
    stop = threading.Event()
    follower = threading.Thread(target=follow_face, args=(bridge, stop), daemon=True)
    follower.start()
    try:
        time.sleep(0.5)  # subscribed: a subscription without Last-Event-ID starts at the end
        answers = [card_check(server, CLINIC, f"face-{i}") for i in range(6)]  # both workers answer
        card_check(server, PHARMACY, "face-pharmacy")
        number_path = {
            "presented": "unspecified",
            "insurer_number": "06270011",
            "symbol": "7-10",
            "number": "123",
            "birthdate": "1970-01-20",
            "institution_code": CLINIC,
        }
        assert (
            http(
                server.url + "/v1/confirmations",
                number_path,
                {"Authorization": f"Bearer {KEYS[CLINIC]}", "Content-Type": "application/json"},
            )[0]
            == 200
        )
        wait_for(lambda: len(face_files(tmp_path)) >= 6)
        time.sleep(0.3)
        files = face_files(tmp_path)
        assert len(files) == 6  # the clinic's six card checks: not the pharmacy's, not the number path
        for tree in files.values():
            head, body = tree["MessageHeader"], tree["MessageBody"]
            assert (
                head["ReferenceClassification"],
                head["SegmentOfResult"],
                head["MedicalInstitutionCode"],
            ) == ("1", "1", CLINIC)
            assert head["CharacterCodeIdentifier"] == "1"
            result = (
                body["ResultList"]["ResultOfQualificationConfirmation"]
                if isinstance(body["ResultList"], dict)
                else body["ResultList"][0]["ResultOfQualificationConfirmation"]
            )
            assert body["QualificationValidity"] == str(answers[0]["validity"])
            assert result["Name"] == answers[0]["person"]["name"]
    finally:
        stop.set()
    # (The stopped follower may still wait for its next line: it writes nothing more, and an
    # event written twice would land in the same file.)
    # Resumed after the last event written: what came meanwhile, once.
    card_check(server, CLINIC, "face-while-away")
    stop = threading.Event()
    follower = threading.Thread(target=follow_face, args=(bridge, stop), daemon=True)
    follower.start()
    try:
        wait_for(lambda: len(face_files(tmp_path)) == 7)
        time.sleep(0.5)
        assert len(face_files(tmp_path)) == 7
    finally:
        stop.set()


def test_the_feed_is_the_keys_institutions_only(server: Served) -> None:
    request = urllib.request.Request(server.url + "/v1/confirmations/feed")
    try:
        urllib.request.urlopen(request, timeout=5)
        raise AssertionError("answered without a key")
    except urllib.error.HTTPError as error:
        assert error.code == 401


def test_feed_files_resume_and_turn_the_day(tmp_path: Path) -> None:
    import asyncio

    feed = Feed(tmp_path)
    feed.append(CLINIC, b'{"n":1}')
    feed.append(CLINIC, b'{"n":2}')
    day = tokyo_day()
    (tmp_path / "feed" / CLINIC / "99991231.ndjson").write_bytes(b'{"n":3}\n')  # "tomorrow"

    async def first(day: str, offset: int, count: int) -> list[tuple[str, bytes] | None]:
        got: list[tuple[str, bytes] | None] = []
        async for event in feed.follow(CLINIC, day, offset):
            got.append(event)
            if len(got) == count:
                break
        return got

    events = asyncio.run(first(day, 0, 3))
    assert [e[1] for e in events if e] == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    resumed = asyncio.run(first(*feed.start_of(CLINIC, events[0][0]), 1))  # type: ignore[index]
    assert resumed[0] == events[1]
    assert (tmp_path / "feed").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "feed" / CLINIC / f"{day}.ndjson").stat().st_mode & 0o777 == 0o600
