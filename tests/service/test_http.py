"""The HTTP surface of CONTRACT.md §2 and §3, in process, against the examples data set."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from service.clock import tokyo_today
from tests.conftest import examples_app
from tests.strategies import JSON_VALUES, REQUEST_FIELDS

KEY = {"Authorization": "Bearer demo-key-clinic", "Content-Type": "application/json"}
GOOD = {
    "institution_code": "2710000019",
    "confirmation_date": "2025-04-01",
    "presented": "unspecified",
    "insurer_number": "06270011",
    "symbol": "7-10",
    "number": "123",
    "birthdate": "1970-01-20",
    "branch": "00",
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(examples_app(), raise_server_exceptions=True)


def post(client: TestClient, body: Any, headers: dict[str, str] | None = None, batch: bool = False) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    path = "/v1/confirmations/batch" if batch else "/v1/confirmations"
    return client.post(path, content=raw, headers=KEY if headers is None else headers)


def error_of(response: Any) -> tuple[int, str, list[str]]:
    err = response.json()["error"]
    return response.status_code, err["code"], [f["field"] + ":" + f["code"] for f in err.get("fields", [])]


def test_valid_answer_shape(client: TestClient) -> None:
    r = post(client, GOOD, {**KEY, "X-Request-ID": "abc.DEF_1:2-3"})
    body = r.json()
    assert r.status_code == 200 and body["code"] == "VALID"
    assert body["request_id"] == "abc.DEF_1:2-3" == r.headers["x-request-id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+09:00", body["checked_at"])
    assert list(body) == [
        "request_id",
        "checked_at",
        "confirmation_date",
        "eligible",
        "code",
        "validity",
        "message",
        "warnings",
        "person",
        "qualification",
        "alternatives",
        "snapshot",
    ]
    assert body["snapshot"]["applied_change_seq"] == 0 and body["snapshot"]["version"]


@pytest.mark.parametrize("rid", ["", "a" * 129, "bad id", "a/b"])
def test_bad_request_ids_are_replaced(client: TestClient, rid: str) -> None:
    body = post(client, GOOD, {**KEY, "X-Request-ID": rid}).json()
    assert body["request_id"] != rid and 1 <= len(body["request_id"]) <= 128


def test_generated_request_ids_are_unique(client: TestClient) -> None:
    ids = {post(client, GOOD).json()["request_id"] for _ in range(20)}
    assert len(ids) == 20


def test_default_confirmation_date_is_today_in_tokyo(client: TestClient) -> None:
    body = post(client, {k: v for k, v in GOOD.items() if k != "confirmation_date"}).json()
    assert body["confirmation_date"] == date.fromordinal(tokyo_today()).isoformat()


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Content-Type": "application/json"}, 401, "UNAUTHENTICATED"),
        ({**KEY, "Authorization": "Bearer nope"}, 401, "UNAUTHENTICATED"),
        ({**KEY, "Authorization": "Basic demo-key-clinic"}, 401, "UNAUTHENTICATED"),
        ({**KEY, "Content-Type": "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ({"Authorization": "Bearer demo-key-clinic"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
def test_auth_and_media_type(client: TestClient, headers: dict[str, str], status: int, code: str) -> None:
    r = post(client, GOOD, headers)
    assert error_of(r)[:2] == (status, code)


def test_content_type_parameters_are_accepted(client: TestClient) -> None:
    assert post(client, GOOD, {**KEY, "Content-Type": "Application/JSON; charset=utf-8"}).status_code == 200


def test_keys_work_only_for_their_own_institution(client: TestClient) -> None:
    r = post(client, GOOD, {**KEY, "Authorization": "Bearer demo-key-pharmacy"})
    assert error_of(r)[:2] == (403, "INSTITUTION_MISMATCH")


def test_check_order(client: TestClient) -> None:
    huge = b"{" + b" " * 70_000 + b"}"
    assert post(client, huge, {"Content-Type": "text/plain"}).status_code == 401  # 401 before 413
    assert post(client, huge, {**KEY, "Content-Type": "text/plain"}).status_code == 413  # 413 before 415
    assert post(client, b"{oops", {**KEY, "Content-Type": "text/plain"}).status_code == 415  # 415 before 400
    bad = {**GOOD, "institution_code": "2740000029", "number": 5}
    assert error_of(post(client, bad))[:2] == (422, "VALIDATION_ERROR")  # 422 before 403


@pytest.mark.parametrize("raw", [b"{oops", b"[]", b'"x"', b"\xff\xfe{}", b"", b"null", b'{"a": 1e999}'])
def test_malformed_json(client: TestClient, raw: bytes) -> None:
    assert error_of(post(client, raw))[:2] == (400, "MALFORMED_JSON")


def test_size_limits(client: TestClient) -> None:
    padded = json.dumps({**GOOD, "pad": "x" * 65_536}).encode()
    assert error_of(post(client, padded))[:2] == (413, "PAYLOAD_TOO_LARGE")
    items = [{"presented": "unspecified"}] * 10_001
    r = post(client, {"institution_code": "2710000019", "items": items}, batch=True)
    assert error_of(r)[:2] == (413, "PAYLOAD_TOO_LARGE")
    big = b'{"items": [' + b'"' + b"x" * (8 * 1024 * 1024) + b'"]}'
    assert post(client, big, batch=True).status_code == 413


TODAY = date.fromordinal(tokyo_today())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"presented": None}, ["presented:REQUIRED"]),
        ({"presented": "passport"}, ["presented:FORMAT"]),
        ({"number": 123}, ["number:FORMAT"]),
        ({"number": ""}, ["number:LENGTH"]),
        ({"number": "　"}, ["number:LENGTH"]),
        ({"symbol": "1" * 21}, ["symbol:LENGTH"]),
        ({"symbol": "7\u200b10"}, ["symbol:FORMAT"]),
        ({"insurer_number": "06270014"}, ["insurer_number:CHECK_DIGIT"]),
        ({"insurer_number": "0627001"}, ["insurer_number:FORMAT"]),
        ({"branch": "1"}, ["branch:FORMAT"]),
        ({"birthdate": "1970-13-01"}, ["birthdate:FORMAT"]),
        ({"birthdate": None}, ["birthdate:REQUIRED"]),
        ({"confirmation_date": "1999-12-31"}, ["confirmation_date:RANGE"]),
        ({"confirmation_date": (TODAY + timedelta(days=367)).isoformat()}, ["confirmation_date:RANGE"]),
        ({"confirmation_date": "2025-02-29"}, ["confirmation_date:FORMAT"]),
        ({"proxy": "yes"}, ["proxy:FORMAT"]),
        ({"consent": True}, ["consent:FORMAT"]),
        ({"consent": {"limit_info": 1}}, ["consent.limit_info:FORMAT"]),
        ({"institution_code": "271000001"}, ["institution_code:FORMAT"]),
        ({"institution_code": None}, ["institution_code:REQUIRED"]),
        ({"presented": "myna_card"}, ["certificate_serial:REQUIRED", "auth_method:REQUIRED"]),
        (
            {"presented": "myna_card", "certificate_serial": "Z1", "auth_method": "iris"},
            ["certificate_serial:FORMAT", "auth_method:FORMAT"],
        ),
        (
            {"presented": "myna_card", "certificate_serial": "A" * 33, "auth_method": "pin"},
            ["certificate_serial:LENGTH"],
        ),
        ({"presented": "info_notice", "identity_verified": "true"}, ["identity_verified:FORMAT"]),
        ({"number": None, "birthdate": 19700120}, ["number:REQUIRED", "birthdate:FORMAT"]),
    ],
)
def test_validation_errors_name_the_field(
    client: TestClient, change: dict[str, Any], expected: list[str]
) -> None:
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    r = post(client, body)
    status, code, fields = error_of(r)
    assert (status, code, fields) == (422, "VALIDATION_ERROR", expected)
    err = r.json()["error"]
    assert all(f["field"] in f["message"] and not f["message"].isascii() for f in err["fields"])


def test_edges_of_the_date_range_are_accepted(client: TestClient) -> None:
    for day in ("2000-01-01", (TODAY + timedelta(days=366)).isoformat()):
        assert post(client, {**GOOD, "confirmation_date": day}).status_code == 200


def test_fields_of_the_other_path_and_unknown_fields_are_ignored(client: TestClient) -> None:
    body = {**GOOD, "certificate_serial": 12, "auth_method": [], "surprise": {"x": 1}}
    assert post(client, body).json()["code"] == "VALID"


def test_batch(client: TestClient) -> None:
    items = [
        {k: v for k, v in GOOD.items() if k not in ("institution_code", "confirmation_date")},
        {**GOOD, "institution_code": "9999999999", "confirmation_date": "2009-01-01"},
        {"presented": "unspecified", "number": 5},
        "not an object",
    ]
    r = post(
        client,
        {"institution_code": "2710000019", "confirmation_date": "2025-04-01", "items": items},
        batch=True,
    )
    body = r.json()
    assert r.status_code == 200 and list(body) == ["request_id", "checked_at", "results", "snapshot"]
    first, second, third, fourth = body["results"]
    assert (first["code"], first["confirmation_date"]) == ("VALID", "2025-04-01")
    assert (second["code"], second["confirmation_date"]) == ("NOT_YET_EFFECTIVE", "2009-01-01")
    assert "request_id" not in first and "snapshot" not in first and first["checked_at"] == body["checked_at"]
    assert third["error"]["code"] == "VALIDATION_ERROR"
    assert {f["field"] for f in third["error"]["fields"]} == {"insurer_number", "number", "birthdate"}
    assert fourth["error"]["fields"][0]["field"] == "item"


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        ({"items": []}, 422, ["institution_code:REQUIRED"]),
        ({"institution_code": "2710000019"}, 422, ["items:REQUIRED"]),
        ({"institution_code": "2710000019", "items": {}}, 422, ["items:FORMAT"]),
        (
            {"institution_code": "2710000019", "items": [], "confirmation_date": "1990-01-01"},
            422,
            ["confirmation_date:RANGE"],
        ),
        ({"institution_code": "2740000029", "items": []}, 403, []),
    ],
)
def test_batch_top_level_errors(
    client: TestClient, body: dict[str, Any], status: int, fields: list[str]
) -> None:
    r = post(client, body, batch=True)
    assert error_of(r)[0] == status and error_of(r)[2] == fields


def test_operations_endpoints(client: TestClient) -> None:
    assert client.get("/v1/healthz").json() == {"status": "ok"}
    assert client.get("/v1/readyz").status_code == 200
    snap = client.get("/v1/snapshot").json()
    assert snap["persons"] == 11 and snap["qualifications"] == 14 and snap["source"] == "csv"
    assert set(snap) == {
        "version",
        "source",
        "loaded_at",
        "persons",
        "qualifications",
        "applied_change_seq",
        "lag_seconds",
    }
    post(client, GOOD)
    text = client.get("/metrics").text
    assert re.search(r'onshi_requests_total\{code="200",endpoint="/v1/confirmations"\} [1-9]', text)
    assert 'onshi_request_duration_seconds_bucket{code="200",endpoint="/v1/confirmations",le="+Inf"}' in text
    assert re.search(r'onshi_decisions_total\{code="VALID"\} [1-9]', text)
    assert "onshi_snapshot_qualifications 14.0" in text
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/confirmations" in paths and "/v1/confirmations/batch" in paths


def test_get_on_a_hot_route_is_405_not_500(client: TestClient) -> None:
    assert client.get("/v1/confirmations").status_code == 405


@settings(max_examples=300)
@given(
    st.fixed_dictionaries({}, optional={f: JSON_VALUES for f in REQUEST_FIELDS}),
    st.sampled_from(["myna_card", "legacy_card", "info_notice", "unspecified", None]),
)
def test_random_json_never_gets_a_5xx(
    client: TestClient, fields: dict[str, Any], presented: str | None
) -> None:
    body = {**GOOD, **({"presented": presented} if presented else {}), **fields}
    single = post(client, body)
    answer = single.json()
    assert single.status_code < 500 and ("error" in answer or "code" in answer)
    batch = post(client, {"institution_code": "2710000019", "items": [body, fields]}, batch=True)
    assert batch.status_code < 500 and isinstance(batch.json(), dict)


@settings(max_examples=100)
@given(st.binary(max_size=200))
def test_random_bytes_never_get_a_5xx(client: TestClient, raw: bytes) -> None:
    assert post(client, raw).status_code in (400, 422, 403, 200)


def test_accepted_keys_are_remembered_exactly(client: TestClient) -> None:
    """The hot path remembers accepted header values; near misses must still be refused."""
    assert post(client, GOOD).status_code == 200
    assert post(client, GOOD).status_code == 200  # now answered from the remembered value
    for bad in ("Bearer demo-key-clinicX", "Bearer demo-key-clini", "Bearer  demo-key-clinic2"):
        assert error_of(post(client, GOOD, {**KEY, "Authorization": bad}))[:2] == (401, "UNAUTHENTICATED")
    assert post(client, GOOD, {**KEY, "Authorization": "bearer demo-key-clinic"}).status_code == 200


KOUKI = {  # person 4's 後期高齢者 qualification: recorded without symbol or branch
    **{k: v for k, v in GOOD.items() if k not in ("symbol", "branch")},
    "insurer_number": "39270012",
    "number": "50505050",
    "birthdate": "1950-05-05",
    "confirmation_date": "2025-06-01",
}


@pytest.mark.parametrize("field", ["institution_code", "presented", "insurer_number", "number", "birthdate"])
def test_json_null_for_a_required_field_is_required(client: TestClient, field: str) -> None:
    assert f"{field}:REQUIRED" in error_of(post(client, {**GOOD, field: None}))[2]
    item = {k: v for k, v in GOOD.items() if k != "institution_code"} | {field: None}
    if field != "institution_code":
        r = post(client, {"institution_code": "2710000019", "items": [item]}, batch=True)
        assert r.status_code == 200
        assert [f["field"] for f in r.json()["results"][0]["error"]["fields"]] == [field]


@pytest.mark.parametrize("field", ["symbol", "branch", "confirmation_date"])
def test_json_null_for_an_optional_field_means_omitted(client: TestClient, field: str) -> None:
    def decision(body: dict[str, Any]) -> tuple[str, Any]:
        answer = post(client, body).json()
        return answer["code"], (answer.get("qualification") or {}).get("qualification_id")

    omitted = {k: v for k, v in KOUKI.items() if k != field}
    assert decision({**KOUKI, field: None}) == decision(omitted) == ("VALID", 15)


def test_an_omitted_symbol_is_the_empty_symbol(client: TestClient) -> None:
    without = KOUKI
    assert post(client, without).json()["code"] == "VALID"
    assert post(client, {**without, "symbol": ""}).json()["code"] == "VALID"
    assert post(client, {**without, "symbol": None}).json()["code"] == "VALID"
    assert post(client, {**without, "symbol": "7-10"}).json()["code"] == "NOT_FOUND"


def padded(body: dict[str, Any], size: int) -> bytes:
    """`body` with an ignored field that brings its JSON to exactly `size` bytes."""
    bare = json.dumps({**body, "pad": ""}).encode()
    raw = json.dumps({**body, "pad": "x" * (size - len(bare))}).encode()
    assert len(raw) == size
    return raw


@pytest.mark.parametrize(
    ("batch", "limit"), [(False, 64 * 1024), (True, 8 * 1024 * 1024)], ids=["single", "batch"]
)
def test_the_size_limit_is_exact(client: TestClient, batch: bool, limit: int) -> None:
    body = {"institution_code": "2710000019", "items": [GOOD]} if batch else GOOD
    assert post(client, padded(body, limit), batch=batch).status_code == 200
    assert error_of(post(client, padded(body, limit + 1), batch=batch))[:2] == (413, "PAYLOAD_TOO_LARGE")


def test_a_chunked_body_is_read_and_limited_the_same(client: TestClient) -> None:
    def chunks(raw: bytes) -> Any:
        for i in range(0, len(raw), 1000):
            yield raw[i : i + 1000]

    ok = client.post("/v1/confirmations", content=chunks(json.dumps(GOOD).encode()), headers=KEY)
    assert ok.status_code == 200 and ok.json()["code"] == "VALID"
    big = client.post("/v1/confirmations", content=chunks(padded(GOOD, 64 * 1024 + 1)), headers=KEY)
    assert error_of(big)[:2] == (413, "PAYLOAD_TOO_LARGE")
