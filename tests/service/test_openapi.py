"""/openapi.json says what the server does (service/openapi.py): statuses, limits, media
types and bearer schemes, each taken from its home."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core_ext import AUTH_METHODS, MAX_BATCH_ITEMS, PRESENTED, SERIAL_MAX
from service.app import create_app
from service.settings import Settings
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    state = tmp_path_factory.mktemp("state")
    app = create_app(Settings(data=str(EXAMPLES / "data"), state_dir=str(state)))
    with TestClient(app) as client:
        answer = client.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def test_confirmation_routes_list_every_status_they_answer(document: dict[str, Any]) -> None:
    for path in ("/v1/confirmations", "/v1/confirmations/batch"):
        operation = document["paths"][path]["post"]
        assert set(operation["responses"]) == {
            "200",
            "400",
            "401",
            "403",
            "408",
            "413",
            "415",
            "422",
            "429",
            "503",
        }
        assert "Retry-After" in operation["responses"]["429"]["headers"]
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
        assert operation["security"] == [{"clinicKey": []}]


def test_the_request_body_states_the_validators_limits(document: dict[str, Any]) -> None:
    single = document["paths"]["/v1/confirmations"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert single["properties"]["presented"]["enum"] == list(PRESENTED)
    card = next(
        kind for kind in single["oneOf"] if kind["properties"]["presented"].get("const") == "myna_card"
    )
    serial = card["properties"]["certificate_serial"]["pattern"]
    assert re.fullmatch(serial, "A" * SERIAL_MAX) and not re.fullmatch(serial, "A" * (SERIAL_MAX + 1))
    assert card["properties"]["auth_method"]["enum"] == list(AUTH_METHODS)
    batch = document["paths"]["/v1/confirmations/batch"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["properties"]["items"]["maxItems"] == MAX_BATCH_ITEMS
    assert set(document["components"]["schemas"]["ConfirmationItem"]["properties"]) >= {"presented", "proxy"}


def test_metrics_are_text_and_admin_routes_take_the_admin_token(document: dict[str, Any]) -> None:
    assert list(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    for path, method in (
        ("/v1/admin/upserts", "post"),
        ("/v1/admin/reload", "post"),
        ("/v1/admin/persons/{person_id}/access-log", "get"),
    ):
        operation = document["paths"][path][method]
        assert operation["security"] == [{"adminToken": []}]
        assert "401" in operation["responses"]
    schemes = document["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values()} == {"bearer"}


def test_a_person_id_of_any_bigint_is_accepted(tmp_path: Path) -> None:
    token = "t" * 40
    app = create_app(Settings(data=str(EXAMPLES / "data"), state_dir=str(tmp_path), admin_token=token))
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get(f"/v1/admin/persons/{2**63 - 1}/access-log", headers=headers).status_code == 200
        assert client.get("/v1/admin/persons/0009/access-log", headers=headers).status_code == 200
        refused = client.get(f"/v1/admin/persons/{2**63}/access-log", headers=headers)
        assert refused.status_code == 422 and refused.json()["error"]["fields"][0]["code"] == "RANGE"
        huge = client.get("/v1/admin/persons/" + "9" * 5000 + "/access-log", headers=headers)
        assert huge.status_code == 422
