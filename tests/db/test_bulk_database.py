"""Bulk jobs kept in PostgreSQL (a server following a database): accepted by one replica and
answered by another; a job whose worker stopped mid-way is taken over; one result per item,
the batch API's, in order; nothing in the state directory."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from service.bulkdb import DatabaseJobStore
from service.db.pool import Database
from service.oqs.xmltree import parse_xml, render_xml
from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import http
from tests.service.oqs.oqsclient import (
    CLINIC,
    first_day_bulk,
    json_request,
    number_path_cases,
)

pytestmark = pytest.mark.slow
CASES = number_path_cases()
CLINIC_KEY = {"Authorization": "Bearer demo-key-clinic", "Content-Type": "application/json"}
PHARMACY_KEY = {"Authorization": "Bearer demo-key-pharmacy", "Content-Type": "application/json"}


def results_of(
    server: Server, job_id: str, key: dict[str, str] = CLINIC_KEY, within: float = 30
) -> list[Any]:

    deadline = time.monotonic() + within
    while True:
        request = urllib.request.Request(f"{server.url}/v1/bulk/{job_id}", headers=key)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read()
                if response.status == 200:
                    return [orjson.loads(line) for line in body.splitlines()]
                assert response.status == 202
        except urllib.error.HTTPError as error:
            raise AssertionError(f"HTTP {error.code}: {error.read()!r}") from None
        assert time.monotonic() < deadline, "the job was not decided in time"
        time.sleep(0.05)


def test_a_job_accepted_by_one_replica_is_answered_by_another(loaded: str, tmp_path: Path) -> None:
    first = Server(loaded, tmp_path / "a", ONSHI_KEY_MISS_LIMIT="0").start()
    second = Server(loaded, tmp_path / "b", ONSHI_KEY_MISS_LIMIT="0").start()
    try:
        items = [json_request(c["request"]) for c in CASES] * 60  # two steps of 1,000 and a part
        status, accepted = http(
            first.url + "/v1/bulk", {"institution_code": CLINIC, "items": items}, CLINIC_KEY
        )
        assert status == 202, accepted
        results = results_of(second, accepted["id"])
        assert len(results) == len(items)
        batch = http(
            first.url + "/v1/confirmations/batch",
            {"institution_code": CLINIC, "items": items[: len(CASES)]},
            CLINIC_KEY,
        )[1]["results"]
        assert [r["code"] for r in results] == [r["code"] for r in batch] * 60
        assert [r["qualification"] for r in results[: len(CASES)]] == [r["qualification"] for r in batch]

        try:
            urllib.request.urlopen(
                urllib.request.Request(f"{second.url}/v1/bulk/{accepted['id']}", headers=PHARMACY_KEY)
            )
            raise AssertionError("another institution's job was answered")
        except urllib.error.HTTPError as error:
            assert error.code == 404
        assert not (tmp_path / "a" / "bulk").exists() and not (tmp_path / "b" / "bulk").exists()
        (row,) = query(loaded, "SELECT status, processed, items FROM bulk_jobs WHERE id = $1", accepted["id"])
        assert tuple(row) == ("done", len(items), len(items))
        # The OQS two phases across the replicas too.

        requests, tree = first_day_bulk()
        number = _oqs(first, "OQSmuquc01", render_xml(tree, "cp932"))["MessageBody"]["ReceptionNumber"]
        poll = render_xml(
            {"MessageHeader": {"MedicalInstitutionCode": CLINIC}, "MessageBody": {"ReceptionNumber": number}},
            "cp932",
        )
        deadline = time.monotonic() + 30
        while (answer := _oqs(second, "OQSmuquc02", poll))["MessageHeader"]["SegmentOfResult"] == "2":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert answer["MessageBody"]["NumberOfProcessingResult"] == str(len(requests))
    finally:
        first.stop()
        second.stop()


def _oqs(server: Server, message: str, raw: bytes) -> Any:

    request = urllib.request.Request(
        f"{server.url}/v1/oqs/{message}",
        data=raw,
        method="POST",
        headers={"Authorization": "Bearer demo-key-clinic", "Content-Type": "application/xml"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return parse_xml(response.read())[0]


def test_a_job_left_by_a_stopped_worker_is_taken_over(loaded: str, tmp_path: Path) -> None:
    items = [json_request(c["request"]) for c in CASES]

    async def half_decided() -> str:
        """A worker claims the job, saves one step of results, and is never heard of again."""
        store = DatabaseJobStore(Database(loaded, 3.0))
        job = await store.create(CLINIC, {"institution_code": CLINIC}, items, "stopped-worker")
        claim = await store.claim(job.id)
        assert claim is not None and await store.claim(job.id) is None  # the lease is exclusive
        step = await store.next_items(claim, 5)
        fake = [orjson.dumps({"code": "FROM_THE_STOPPED_WORKER"})] * len(step)
        await store.save_step(claim, fake)
        await store.database.close()
        return job.id

    job_id = asyncio.run(half_decided())
    query(loaded, "UPDATE bulk_jobs SET lease_until = now() - interval '1 second' WHERE id = $1", job_id)
    server = Server(loaded, tmp_path / "state", ONSHI_KEY_MISS_LIMIT="0").start()
    try:
        results = results_of(server, job_id)
        assert [r["code"] for r in results[:5]] == ["FROM_THE_STOPPED_WORKER"] * 5  # kept, not decided twice
        single = [json_answer(server, i)["code"] for i in items[5:]]
        assert [r["code"] for r in results[5:]] == single
    finally:
        server.stop()


def json_answer(server: Server, item: dict[str, Any]) -> Any:
    return http(server.url + "/v1/confirmations", item, CLINIC_KEY)[1]
