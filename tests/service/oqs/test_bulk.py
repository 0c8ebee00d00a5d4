"""Bulk confirmation in two phases (OQSmuquc01/02) and the JSON bulk API (/v1/bulk): the same
answers as one by one, only to the institution that sent them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from service import bulk
from tests.service.oqs.oqsclient import (
    CLINIC,
    CLINIC_KEY,
    PHARMACY_KEY,
    compare,
    header,
    json_request,
    number_path_cases,
    read_xml,
    search_info,
    xml_of,
)
from tests.service.oqs.test_gateway import app_on, json_answer

CASES = number_path_cases()
XML = {"Content-Type": "application/xml"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(app_on(tmp_path)) as c:
        yield c


def poll_oqs(client: TestClient, number: str, codec: str = "cp932", key: dict[str, str] = CLINIC_KEY) -> Any:
    tree = {"MessageHeader": {"MedicalInstitutionCode": CLINIC}, "MessageBody": {"ReceptionNumber": number}}
    return client.post("/v1/oqs/OQSmuquc02", content=xml_of(tree, codec), headers={**key, **XML})


@pytest.mark.parametrize("codec", ["cp932", "utf-8"])
def test_two_phases_answer_every_example_as_one_by_one(client: TestClient, codec: str) -> None:
    by_date: dict[str, list[dict[str, Any]]] = {}
    for case in CASES:
        by_date.setdefault(case["request"]["confirmation_date"], []).append(case["request"])
    numbers = {}
    for day, requests in by_date.items():
        tree = {
            "MessageHeader": header(requests[0]),
            "MessageBody": {"QualificationConfirmSearchInfo": [search_info(r) for r in requests]},
        }
        r = client.post("/v1/oqs/OQSmuquc01", content=xml_of(tree, codec), headers={**CLINIC_KEY, **XML})
        assert r.status_code == 200, r.content
        answer = read_xml(r.content)
        assert answer["MessageHeader"]["SegmentOfResult"] == "1"
        numbers[day] = answer["MessageBody"]["ReceptionNumber"]
    compared = 0
    for day, number in numbers.items():
        deadline = time.monotonic() + 10
        while True:
            tree = read_xml(poll_oqs(client, number, codec).content)
            if tree["MessageHeader"]["SegmentOfResult"] == "1":
                break
            assert tree["MessageHeader"]["SegmentOfResult"] == "2" and time.monotonic() < deadline
            time.sleep(0.02)
        body = tree["MessageBody"]
        requests = by_date[day]
        assert body["NumberOfProcessingResult"] == str(len(requests))
        assert int(body["NumberOfNormalProcessing"]) + int(body["NumberOfError"]) == len(requests)
        units = body["ResultList"]
        units = units if isinstance(units, list) else [units]
        assert len(units) == len(requests)
        for request, unit in zip(requests, units, strict=True):
            unit = unit["BulkConfirmUnit"]
            assert unit["QualificationConfirmSearchInfo"]["InsuredIdentificationNumber"] == request["number"]
            results = unit.get("ResultOfQualificationConfirmation")
            # A unit holds its results as a list (ResultList) like the single answer.
            body_of_unit = {
                **unit,
                "ResultList": unit.get("ResultList") or ([] if results is None else results),
            }
            assert compare(json_answer(client, request), body_of_unit) == [], request
            compared += 1
    assert compared == len(CASES)


def test_reception_numbers_are_the_institutions_own(client: TestClient) -> None:
    request = CASES[0]["request"]
    tree = {
        "MessageHeader": header(request),
        "MessageBody": {"QualificationConfirmSearchInfo": search_info(request)},
    }
    r = client.post("/v1/oqs/OQSmuquc01", content=xml_of(tree, "utf-8"), headers={**CLINIC_KEY, **XML})
    number = read_xml(r.content)["MessageBody"]["ReceptionNumber"]
    r = poll_oqs(client, number, key=PHARMACY_KEY)
    assert r.status_code == 404 and read_xml(r.content)["MessageHeader"]["ErrorCode"] == "BULK_NOT_FOUND"
    for unknown in ["0" * 32, "../../etc", "", number[:-1] + ("0" if number[-1] != "0" else "1")]:
        r = poll_oqs(client, unknown)
        head = read_xml(r.content)["MessageHeader"]
        assert r.status_code == 404 and (head["SegmentOfResult"], head["ErrorCode"]) == (
            "9",
            "BULK_NOT_FOUND",
        )
    assert client.get(f"/v1/bulk/{number}", headers=PHARMACY_KEY).status_code == 404


def bulk_json(client: TestClient, items: list[dict[str, Any]], key: dict[str, str] = CLINIC_KEY) -> Any:
    body = {"institution_code": CLINIC, "items": items}
    return client.post(
        "/v1/bulk", content=orjson.dumps(body), headers={**key, "Content-Type": "application/json"}
    )


def results_of(client: TestClient, job_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        r = client.get(f"/v1/bulk/{job_id}", headers=CLINIC_KEY)
        if r.status_code == 200:
            assert r.headers["content-type"] == "application/x-ndjson"
            return [orjson.loads(line) for line in r.content.splitlines()]
        assert r.status_code == 202 and r.json()["status"] == "running" and r.headers["retry-after"] == "1"
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_json_bulk_gives_the_batch_answers(tmp_path: Path) -> None:
    # 100 times every example (several steps of the runner); the wrong-birthdate example
    # 100 times would lock its key (service/probing.py), so that limit is off here.
    with TestClient(app_on(tmp_path, key_miss_limit=0)) as client:
        check_batch_answers(client, [json_request(case["request"]) for case in CASES] * 100)


def check_batch_answers(client: TestClient, items: list[dict[str, Any]]) -> None:
    r = bulk_json(client, items)
    assert r.status_code == 202 and r.headers["location"] == f"/v1/bulk/{r.json()['id']}"
    accepted = r.json()
    assert accepted["items"] == len(items) and accepted["expires_at"] - accepted["accepted_at"] == 24 * 3600
    results = results_of(client, accepted["id"])
    assert len(results) == len(items)
    for item, result in zip(items[: len(CASES)], results, strict=False):
        single = json_answer(client, item)
        assert (result["code"], result["qualification"]) == (single["code"], single["qualification"])
    assert results[len(CASES) :] and [r["code"] for r in results[: len(CASES)]] * 100 == [
        r["code"] for r in results
    ]


def test_json_bulk_bad_items_fail_alone(client: TestClient) -> None:
    items = [json_request(CASES[0]["request"]), {"presented": "legacy_card", "insurer_number": "x"}]
    results = results_of(client, bulk_json(client, items).json()["id"])
    assert results[0]["code"] == "VALID" and results[1]["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"[", 400, "MALFORMED_JSON"),
        (b"{}", 422, "VALIDATION_ERROR"),
        (b'{"institution_code": "2710000019", "items": []}', 422, "VALIDATION_ERROR"),
        (b'{"items": [{}]}', 422, "VALIDATION_ERROR"),
        (b'{"institution_code": "2740000029", "items": [{}]}', 403, "INSTITUTION_MISMATCH"),
    ],
)
def test_json_bulk_refusals(client: TestClient, body: bytes, status: int, code: str) -> None:
    r = client.post("/v1/bulk", content=body, headers={**CLINIC_KEY, "Content-Type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)


def test_json_bulk_limit(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("service.oqs.gateway.MAX_ITEMS", 3)
    r = bulk_json(client, [{}] * 4)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert (
        client.post("/v1/bulk", content=b"{}", headers={"Content-Type": "application/json"}).status_code
        == 401
    )


def test_a_job_left_by_a_stopped_worker_is_taken_over(tmp_path: Path) -> None:
    items = [json_request(case["request"]) for case in CASES]
    with TestClient(app_on(tmp_path)) as c:
        gateway = c.app.gateway  # type: ignore[attr-defined]
        gateway.runner.start = lambda job: None  # this worker accepts but never runs it
        job_id = bulk_json(c, items).json()["id"]
        assert c.get(f"/v1/bulk/{job_id}", headers=CLINIC_KEY).status_code == 202
    with TestClient(app_on(tmp_path)) as c:  # a worker that finds it with its lock free
        assert [r["code"] for r in results_of(c, job_id)] == [json_answer(c, i)["code"] for i in items]


def test_jobs_expire_after_a_day(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = bulk_json(client, [json_request(CASES[0]["request"])]).json()["id"]
    results_of(client, job_id)
    monkeypatch.setattr(bulk.time, "time", lambda: time.time_ns() / 1e9 + bulk.KEEP_SECONDS + 1)
    assert client.get(f"/v1/bulk/{job_id}", headers=CLINIC_KEY).status_code == 404
    bulk_json(client, [json_request(CASES[0]["request"])])  # accepting sweeps old jobs away
    assert not (client.app.gateway.store.root / job_id).exists()  # type: ignore[attr-defined]


def test_a_locked_key_refuses_only_its_own_items(client: TestClient) -> None:
    wrong = next(c["request"] for c in CASES if c["name"] == "birthdate mismatch looks like not found")
    good = next(c["request"] for c in CASES if c["name"] == "70-74 pays 20% in 国保")  # another key
    first = results_of(client, bulk_json(client, [json_request(wrong)] * 6).json()["id"])
    assert [r["code"] for r in first] == ["NOT_FOUND"] * 6  # (the key is locked after this step)
    items = [json_request(good), json_request(wrong), json_request(good)]
    results = results_of(client, bulk_json(client, items).json()["id"])
    # The step reached the locked key (ONSHI_KEY_MISS_LIMIT): only that item is refused.
    assert [r.get("code") or r["error"]["code"] for r in results] == ["VALID", "RATE_LIMITED", "VALID"]
