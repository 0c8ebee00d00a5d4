"""SNAPSHOT_STALE (RULES.md §4.3): added once the data may have missed changes for longer
than the bound, exactly at the bound with an injected clock; never for a file source; on
both the single and the batch answer."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from service.state import ServiceState
from tests.conftest import examples_app
from tests.processes import CARD_1, CLINIC_CODE, CLINIC_KEY

BOUND = 60.0
HEADERS = {"Authorization": f"Bearer {CLINIC_KEY}", "Content-Type": "application/json"}


def test_stale_only_after_the_bound() -> None:
    state = ServiceState("database", BOUND)
    assert state.stale(1_000.0)  # never synced: nothing says the data is complete
    state.synced_at = 1_000.0
    assert not state.stale(1_000.0 + BOUND)
    assert state.stale(1_000.0 + BOUND + 0.001)
    assert state.lag_seconds(1_000.0 + BOUND + 0.5) == BOUND + 0.5


def test_a_file_source_is_never_stale() -> None:
    state = ServiceState("csv")
    assert not state.stale(1e12)
    assert state.lag_seconds(1e12) == 0.0


@pytest.mark.parametrize(("synced_ago", "stale"), [(BOUND - 5, False), (BOUND + 5, True)])
def test_answers_carry_the_warning_when_stale(synced_ago: float, stale: bool) -> None:
    app = examples_app()
    app.state.stale_after = BOUND  # as when following a database
    app.state.synced_at = time.time() - synced_ago
    client = TestClient(app)
    single = client.post(
        "/v1/confirmations", json={"institution_code": CLINIC_CODE, **CARD_1}, headers=HEADERS
    )
    batch = client.post(
        "/v1/confirmations/batch", json={"institution_code": CLINIC_CODE, "items": [CARD_1]}, headers=HEADERS
    )
    for answer in (single.json(), batch.json()["results"][0]):
        assert answer["code"] == "VALID"
        assert ("SNAPSHOT_STALE" in answer["warnings"]) is stale


def test_a_file_source_app_never_warns() -> None:
    app = examples_app()
    assert app.state.stale_after is None
    answer = TestClient(app).post(
        "/v1/confirmations", json={"institution_code": CLINIC_CODE, **CARD_1}, headers=HEADERS
    )
    assert "SNAPSHOT_STALE" not in answer.json()["warnings"]
