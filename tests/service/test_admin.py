"""Admin endpoints without a database: upserts are refused (READ_ONLY), the access log is a local file."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import EXAMPLES

TOKEN = "admin-token-for-tests-" + "y" * 20
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
CLINIC = {"Authorization": "Bearer demo-key-clinic", "Content-Type": "application/json"}
CARD_1 = {
    "institution_code": "2710000019",
    "presented": "myna_card",
    "certificate_serial": "ABCDEF0000000001",
    "auth_method": "face",
}


def app(tmp_path: Path) -> TestClient:
    settings = Settings(data=str(EXAMPLES / "data"), admin_token=TOKEN, state_dir=str(tmp_path))
    return TestClient(create_app(settings))


def test_upserts_are_read_only_without_a_database(tmp_path: Path) -> None:
    with app(tmp_path) as client:
        r = client.post("/v1/admin/upserts", json={"persons": []}, headers=ADMIN)
    assert r.status_code == 409 and r.json()["error"]["code"] == "READ_ONLY"


def test_access_log_needs_the_admin_token(tmp_path: Path) -> None:
    with app(tmp_path) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            r = client.get("/v1/admin/persons/1/access-log", headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"


def test_confirmations_are_recorded_in_the_state_directory(tmp_path: Path) -> None:
    with app(tmp_path) as client:
        for i in range(5):
            r = client.post("/v1/confirmations", json=CARD_1, headers={**CLINIC, "X-Request-ID": f"rid-{i}"})
            assert r.json()["code"] == "VALID"
        batch = {"institution_code": "2710000019", "items": [CARD_1, {**CARD_1, "certificate_serial": "FF"}]}
        assert (
            client.post(
                "/v1/confirmations/batch", json=batch, headers={**CLINIC, "X-Request-ID": "b"}
            ).status_code
            == 200
        )
        # Unflushed records are already visible to the member's view.
        early = client.get("/v1/admin/persons/1/access-log", headers=ADMIN).json()
        assert [r["request_id"] for r in early] == ["b", "rid-4", "rid-3", "rid-2", "rid-1", "rid-0"]
    lines = (tmp_path / "access-log.csv").read_text().splitlines()
    assert len(lines) == 7  # the unknown certificate is recorded too, without a person
    assert all("ABCDEF" not in line for line in lines)  # never raw identifiers
    with app(tmp_path) as client:
        records = client.get("/v1/admin/persons/1/access-log?limit=3", headers=ADMIN).json()
    assert [r["request_id"] for r in records] == ["b", "rid-4", "rid-3"]
    assert records[0] == {
        "at": records[0]["at"],
        "institution_code": "2710000019",
        "presented": "myna_card",
        "code": "VALID",
        "request_id": "b",
        "birthdate_mismatch": False,
    }


def test_admin_routes_check_the_token_before_anything_else(tmp_path: Path) -> None:
    """Without the token a caller learns nothing, not even that the server reads files."""
    with app(tmp_path) as client:
        for method, path in (("POST", "/v1/admin/upserts"), ("POST", "/v1/admin/reload")):
            r = client.request(method, path, json={"persons": []})
            assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
        r = client.get("/v1/admin/persons/x/access-log?limit=0")
        assert r.status_code == 401


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("?limit=0", [("limit", "RANGE")]),
        ("?limit=10001", [("limit", "RANGE")]),
        ("?limit=x", [("limit", "FORMAT")]),
        ("?limit=-1", [("limit", "FORMAT")]),
        ("?limit=", [("limit", "FORMAT")]),
    ],
)
def test_access_log_limit_is_refused_in_the_contract_shape(
    tmp_path: Path, query: str, fields: list[tuple[str, str]]
) -> None:
    with app(tmp_path) as client:
        r = client.get("/v1/admin/persons/1/access-log" + query, headers=ADMIN)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [(f["field"], f["code"]) for f in error["fields"]] == fields
    assert all(f["field"] in f["message"] for f in error["fields"])


def test_access_log_person_id_and_limit_bounds(tmp_path: Path) -> None:
    with app(tmp_path) as client:
        r = client.get("/v1/admin/persons/abc/access-log?limit=0", headers=ADMIN)
        assert [f["field"] for f in r.json()["error"]["fields"]] == ["person_id", "limit"]
        assert client.get("/v1/admin/persons/1/access-log?limit=10000", headers=ADMIN).status_code == 200
        assert client.get("/v1/admin/persons/1/access-log?limit=1", headers=ADMIN).status_code == 200


def test_a_torn_journal_line_is_passed_over_when_reading(tmp_path: Path) -> None:
    def confirmed(client: TestClient, request_id: str) -> bool:
        headers = {**CLINIC, "X-Request-ID": request_id}
        return client.post("/v1/confirmations", json=CARD_1, headers=headers).status_code == 200

    with app(tmp_path) as client:
        assert confirmed(client, "whole")
    with (tmp_path / "access-log.csv").open("ab") as journal:
        journal.write(b"2026-12-03T10:00:00.000+09:00,2710000019,myna_ca")  # a crash mid-line
    with app(tmp_path) as client:
        assert confirmed(client, "after")  # a line of its own, not glued to the torn one
        answer = client.get("/v1/admin/persons/1/access-log", headers=ADMIN)
    assert answer.status_code == 200 and [r["request_id"] for r in answer.json()] == ["after", "whole"]
