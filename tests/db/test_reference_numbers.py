"""照会番号 (ReferenceNumber) from PostgreSQL, two workers: registered with OQSsiimm01 and the bulk
OQSmuimm01/02, returned in that clinic's card-path and number-path answers (JSON and OQS) on
every worker within a second, in no other clinic's; kept across a restart."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from service.oqs.xmltree import parse_xml, render_xml
from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import CARD_1, CLINIC_CODE, every_worker_ready, http, wait_all_started
from tests.service.oqs.oqsclient import header, number_path_cases, search_info, single_tree

pytestmark = pytest.mark.slow
PHARMACY_CODE = "2740000029"
KEYS = {CLINIC_CODE: "demo-key-clinic", PHARMACY_CODE: "demo-key-pharmacy"}
CASES = {c["name"]: c["request"] for c in number_path_cases()}
# The member of CARD_1 (qualification 11), by the numbers of the card.
MEMBER = CASES["legacy card within its validity"]
OTHER = CASES["preschool child pays 20%"]  # the same card's child: another person
MISMATCH = CASES["birthdate mismatch looks like not found"]


def oqs(
    server: Server, message: str, tree: dict[str, Any], institution: str = CLINIC_CODE
) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{server.url}/v1/oqs/{message}",
        data=render_xml(tree, "cp932"),
        method="POST",
        headers={"Authorization": f"Bearer {KEYS[institution]}", "Content-Type": "application/xml"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, parse_xml(response.read())[0]
    except urllib.error.HTTPError as error:
        return error.code, parse_xml(error.read())[0]


def registration(request: dict[str, Any], number: str) -> dict[str, Any]:
    return {"QualificationConfirmSearchInfo": search_info(request), "ReferenceNumber": number}


def json_confirm(
    server: Server, body: dict[str, Any], institution: str = CLINIC_CODE, batch: bool = False
) -> Any:
    headers = {"Authorization": f"Bearer {KEYS[institution]}", "Content-Type": "application/json"}
    path = "/v1/confirmations/batch" if batch else "/v1/confirmations"
    status, answer = http(server.url + path, {**body, "institution_code": institution}, headers)
    assert status == 200, answer
    return answer


def card(institution: str = CLINIC_CODE) -> Any:
    return {**CARD_1, "confirmation_date": MEMBER["confirmation_date"]}


def numbers_seen(server: Server, institution: str) -> set[Any]:
    """reference_number of the member's card-path and number-path answers, a few times (both workers)."""
    seen = set()
    for _ in range(6):
        seen.add(json_confirm(server, card(), institution).get("reference_number"))
        seen.add(
            json_confirm(server, {**MEMBER, "institution_code": institution}, institution).get(
                "reference_number"
            )
        )
    return seen


def until(check: Any, what: str, within: float = 1.0) -> None:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, f"{what} took longer than {within} s"
        time.sleep(0.02)


def test_registered_numbers_come_back_to_their_clinic_only(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state", "--workers", "2").start()
    try:
        wait_all_started(server.log, 2, " mapped in ")
        every_worker_ready(server.url)
        assert numbers_seen(server, CLINIC_CODE) == {None}
        tree = {"MessageHeader": header(MEMBER), "MessageBody": registration(MEMBER, "カルテ-000123")}
        status, answer = oqs(server, "OQSsiimm01", tree)
        assert status == 200 and answer["MessageHeader"]["SegmentOfResult"] == "1", answer
        assert answer["MessageBody"]["ProcessingResultStatus"] == "1"
        assert answer["MessageBody"]["ReferenceNumber"] == "カルテ-000123"
        until(lambda: numbers_seen(server, CLINIC_CODE) == {"カルテ-000123"}, "the number on every worker")
        assert numbers_seen(server, PHARMACY_CODE) == {None}  # another clinic's answers never carry it
        # The national answer carries it too; the child (another person) has none.
        status, answer = oqs(server, "OQSsiquc01", single_tree(MEMBER))
        result = (
            answer["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"]
            if isinstance(answer["MessageBody"]["ResultList"], dict)
            else answer["MessageBody"]["ResultList"][0]["ResultOfQualificationConfirmation"]
        )
        assert result["ReferenceNumber"] == "カルテ-000123"
        batch = json_confirm(
            server,
            {"confirmation_date": MEMBER["confirmation_date"], "items": [MEMBER, OTHER, card()]},
            batch=True,
        )
        assert [r.get("reference_number") for r in batch["results"]] == [
            "カルテ-000123",
            None,
            "カルテ-000123",
        ]
        # A new number replaces the old one.
        tree["MessageBody"]["ReferenceNumber"] = "カルテ-000124"
        assert oqs(server, "OQSsiimm01", tree)[0] == 200
        until(lambda: numbers_seen(server, CLINIC_CODE) == {"カルテ-000124"}, "the new number")
        rows = query(loaded, "SELECT institution_code, reference_number FROM reference_numbers")
        assert [tuple(r) for r in rows] == [(CLINIC_CODE, "カルテ-000124")]
    finally:
        server.stop()
    restarted = Server(loaded, tmp_path / "state2").start()
    try:
        assert numbers_seen(restarted, CLINIC_CODE) == {"カルテ-000124"}
    finally:
        restarted.stop()


def test_registration_failures(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state").start()
    try:
        for number in ("", "x" * 51):
            tree = {"MessageHeader": header(MEMBER), "MessageBody": registration(MEMBER, number)}
            status, answer = oqs(server, "OQSsiimm01", tree)
            body = answer["MessageBody"]
            assert (
                status == 200
                and body["ProcessingResultStatus"] == "2"
                and "ReferenceNumber" in body["ProcessingResultMessage"]
            )
        tree = {"MessageHeader": header(MISMATCH), "MessageBody": registration(MISMATCH, "A1")}
        status, answer = oqs(server, "OQSsiimm01", tree)
        assert answer["MessageBody"]["ProcessingResultStatus"] == "2"  # nobody found: nothing stored
        status, answer = oqs(
            server,
            "OQSsiimm01",
            {"MessageHeader": header(MEMBER), "MessageBody": registration(MEMBER, "A1")},
            PHARMACY_CODE,
        )
        assert status == 403 and answer["MessageHeader"]["ErrorCode"] == "INSTITUTION_MISMATCH"
        assert query(loaded, "SELECT count(*) FROM reference_numbers")[0][0] == 0
    finally:
        server.stop()


def test_bulk_registration_in_two_phases(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state").start()
    try:
        units = [registration(MEMBER, "P1"), registration(MISMATCH, "P2"), registration(OTHER, "P3")]
        tree = {"MessageHeader": header(MEMBER), "MessageBody": {"ReferenceNumberRegistrationUnit": units}}
        status, answer = oqs(server, "OQSmuimm01", tree)
        assert status == 200, answer
        number = answer["MessageBody"]["ReceptionNumber"]
        poll = {
            "MessageHeader": {"MedicalInstitutionCode": CLINIC_CODE},
            "MessageBody": {"ReceptionNumber": number},
        }
        status, answer = oqs(server, "OQSmuimm02", poll)
        body = answer["MessageBody"]
        assert (
            body["NumberOfProcessingResult"],
            body["NumberOfNormalProcessing"],
            body["NumberOfError"],
        ) == ("3", "2", "1")
        statuses = [
            u["ReferenceNumberRegistrationUnit"]["ProcessingResultStatus"] for u in body["ResultList"]
        ]
        assert statuses == ["1", "2", "1"]
        assert oqs(server, "OQSmuimm02", poll, PHARMACY_CODE)[0] == 404
        assert oqs(server, "OQSmuquc02", poll)[0] == 404  # a registration's number is not a confirmation's
        stored = {
            r["reference_number"] for r in query(loaded, "SELECT reference_number FROM reference_numbers")
        }
        assert stored == {"P1", "P3"}
    finally:
        server.stop()
