"""POST /v1/oqs/OQSsiquc01: every public number-path example, in Shift_JIS, UTF-8 and the JSON form,
answers as the JSON API does; broken, hostile and refused messages get SegmentOfResult 9."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from service.catalogue import BY_CODE
from tests.conftest import EXAMPLES
from tests.service.oqs.oqsclient import (
    CLINIC_KEY,
    PHARMACY_KEY,
    compare,
    json_request,
    number_path_cases,
    read_xml,
    single_tree,
    xml_of,
)

URL = "/v1/oqs/OQSsiquc01"
CASES = number_path_cases()


def app_on(state_dir: Path, **settings_given: Any) -> Any:
    from service.app import create_app
    from service.dataset import load_dir
    from service.settings import Settings
    from service.state import generation_of

    settings = Settings(data=str(EXAMPLES / "data"), state_dir=str(state_dir), **settings_given)
    return create_app(settings, generation_of(*load_dir(EXAMPLES / "data").build()))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(app_on(tmp_path_factory.mktemp("state"))) as c:
        yield c


def json_answer(client: TestClient, request: dict[str, Any]) -> dict[str, Any]:
    r = client.post(
        "/v1/confirmations",
        content=orjson.dumps(json_request(request)),
        headers={**CLINIC_KEY, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_there_are_number_path_examples() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("codec", ["cp932", "utf-8"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_every_example_answers_as_the_json_api(client: TestClient, case: dict[str, Any], codec: str) -> None:
    request = case["request"]
    raw = xml_of(single_tree(request), codec)
    r = client.post(URL, content=raw, headers={**CLINIC_KEY, "Content-Type": "application/xml"})
    assert r.status_code == 200, r.content
    declared = "Shift_JIS" if codec == "cp932" else "UTF-8"
    assert r.headers["content-type"] == f"application/xml; charset={declared}"
    assert r.content.startswith(f'<?xml version="1.0" encoding="{declared}"'.encode())
    tree = read_xml(r.content)
    head = tree["MessageHeader"]
    assert head["SegmentOfResult"] == "1" and head["CharacterCodeIdentifier"] == (
        "1" if codec == "cp932" else "0"
    )
    assert (
        head["MedicalInstitutionCode"] == request["institution_code"]
        and head["ArbitraryFileIdentifier"] == "test"
    )
    assert head["ReferenceClassification"] == "2"
    answer = json_answer(client, request)
    assert compare(answer, tree["MessageBody"]) == []
    assert tree["MessageBody"]["ProcessingResultStatus"] == "1"
    if answer["qualification"]:  # 8 characters, a 6-digit number padded on the left
        padded = answer["qualification"]["insurer_number"].rjust(8)
        assert f"<InsurerNumber>{padded}</InsurerNumber>".encode() in r.content
    if answer["code"] != "VALID":
        assert tree["MessageBody"]["ProcessingResultCode"] == BY_CODE[answer["code"]].processing_result_code


@pytest.mark.parametrize("case", CASES[:5], ids=[c["name"] for c in CASES[:5]])
def test_the_json_form_answers_the_same(client: TestClient, case: dict[str, Any]) -> None:
    request = case["request"]
    r = client.post(
        URL,
        content=orjson.dumps({"XmlMsg": single_tree(request)}),
        headers={**CLINIC_KEY, "Content-Type": "application/json;charset=UTF-8"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    tree = r.json()["XmlMsg"]
    assert tree["MessageHeader"]["CharacterCodeIdentifier"] == "0"
    assert compare(json_answer(client, request), tree["MessageBody"]) == []


def test_half_width_kana_and_the_limit_block_only_with_consent(client: TestClient) -> None:
    request = next(c["request"] for c in CASES if c["request"].get("consent", {}).get("limit_info"))
    body = read_xml(
        client.post(
            URL,
            content=xml_of(single_tree(request), "cp932"),
            headers={**CLINIC_KEY, "Content-Type": "application/xml"},
        ).content
    )["MessageBody"]
    result = body["ResultList"][0]["ResultOfQualificationConfirmation"]
    assert result["NameKana"] and all("\uff61" <= ch <= "\uff9f" or ch == " " for ch in result["NameKana"])
    assert "LimitApplicationCertificateRelatedInfo" in result
    without = {**request, "consent": {"limit_info": False}}
    body = read_xml(
        client.post(
            URL,
            content=xml_of(single_tree(without), "cp932"),
            headers={**CLINIC_KEY, "Content-Type": "application/xml"},
        ).content
    )["MessageBody"]
    assert (
        "LimitApplicationCertificateRelatedInfo"
        not in body["ResultList"][0]["ResultOfQualificationConfirmation"]
    )


def test_a_character_shift_jis_lacks_is_a_reference(client: TestClient) -> None:
    from service.oqs.xmltree import parse_xml, render_xml

    raw = render_xml({"Name": "𠮷田"}, "cp932")
    assert b"&#134071;" in raw
    assert parse_xml(raw)[0] == {"Name": "𠮷田"}


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]><XmlMsg><MessageHeader>&lol9;</MessageHeader></XmlMsg>"
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<XmlMsg><MessageHeader><MedicalInstitutionCode>&e;</MedicalInstitutionCode></MessageHeader></XmlMsg>"
)


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
def test_hostile_documents_are_refused_quickly(client: TestClient, document: bytes) -> None:
    started = time.perf_counter()
    r = client.post(URL, content=document, headers={**CLINIC_KEY, "Content-Type": "application/xml"})
    elapsed = time.perf_counter() - started
    assert r.status_code == 400 and elapsed < 0.5
    head = read_xml(r.content)["MessageHeader"]
    assert head["SegmentOfResult"] == "9" and head["ErrorCode"] == "FORBIDDEN_XML"
    assert "DOCTYPE" in head["ErrorMessage"] and b"root:" not in r.content


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"<XmlMsg><MessageHeader>", "MALFORMED_XML"),
        (b'<?xml version="1.0" encoding="EUC-JP"?><XmlMsg/>', "UNSUPPORTED_ENCODING"),
        (
            '<?xml version="1.0" encoding="UTF-8"?><XmlMsg><A>山田</A></XmlMsg>'.encode("cp932"),
            "MALFORMED_XML",
        ),
        (b"<Other><A>1</A></Other>", "MALFORMED_XML"),
        (b"<XmlMsg>" + b"<A>" * 20 + b"x" + b"</A>" * 20 + b"</XmlMsg>", "MALFORMED_XML"),
    ],
    ids=["truncated", "euc-jp", "undecodable", "other-root", "too-deep"],
)
def test_unreadable_messages(client: TestClient, raw: bytes, code: str) -> None:
    r = client.post(URL, content=raw, headers={**CLINIC_KEY, "Content-Type": "application/xml"})
    assert r.status_code == 400
    head = read_xml(r.content)["MessageHeader"]
    assert (head["SegmentOfResult"], head["ErrorCode"]) == ("9", code) and head["ErrorMessage"]


def test_invalid_fields_are_named_by_their_elements(client: TestClient) -> None:
    request = {**CASES[0]["request"], "birthdate": "1970-13-40"}
    r = client.post(
        URL,
        content=xml_of(single_tree(request), "utf-8"),
        headers={**CLINIC_KEY, "Content-Type": "application/xml"},
    )
    assert r.status_code == 422
    head = read_xml(r.content)["MessageHeader"]
    assert head["ErrorCode"] == "VALIDATION_ERROR" and "Birthdate" in head["ErrorMessage"]


def test_another_institution_and_no_key(client: TestClient) -> None:
    raw = xml_of(single_tree(CASES[0]["request"]), "utf-8")
    r = client.post(URL, content=raw, headers={**PHARMACY_KEY, "Content-Type": "application/xml"})
    assert (
        r.status_code == 403 and read_xml(r.content)["MessageHeader"]["ErrorCode"] == "INSTITUTION_MISMATCH"
    )
    r = client.post(URL, content=raw, headers={"Content-Type": "application/xml"})
    assert r.status_code == 401 and read_xml(r.content)["MessageHeader"]["ErrorCode"] == "UNAUTHENTICATED"
    r = client.post(URL, content=raw, headers={**CLINIC_KEY, "Content-Type": "text/plain"})
    assert r.status_code == 415
    r = client.post(
        "/v1/oqs/OQSnothing", content=raw, headers={**CLINIC_KEY, "Content-Type": "application/xml"}
    )
    assert r.status_code == 404 and read_xml(r.content)["MessageHeader"]["ErrorCode"] == "UNKNOWN_MESSAGE"


def test_two_searches_in_a_single_message_are_refused(client: TestClient) -> None:
    tree = single_tree(CASES[0]["request"])
    info = tree["MessageBody"]["QualificationConfirmSearchInfo"]
    tree["MessageBody"]["QualificationConfirmSearchInfo"] = [info, info]
    r = client.post(
        URL, content=xml_of(tree, "utf-8"), headers={**CLINIC_KEY, "Content-Type": "application/xml"}
    )
    assert (
        r.status_code == 422
        and "QualificationConfirmSearchInfo" in read_xml(r.content)["MessageHeader"]["ErrorMessage"]
    )


def test_the_access_log_records_national_messages(tmp_path: Path) -> None:
    with TestClient(app_on(tmp_path)) as c:
        raw = xml_of(single_tree(CASES[0]["request"]), "utf-8")
        r = c.post(
            URL,
            content=raw,
            headers={**CLINIC_KEY, "Content-Type": "application/xml", "X-Request-ID": "oqs-1"},
        )
        assert r.status_code == 200
    assert "oqs-1" in "".join(p.read_text() for p in tmp_path.glob("access-log*") if p.is_file())


def test_reference_numbers_need_the_database(client: TestClient) -> None:
    request = CASES[0]["request"]
    tree = single_tree(request)
    tree["MessageBody"]["ReferenceNumber"] = "A1"
    for message in ("OQSsiimm01", "OQSmuimm01"):
        r = client.post(
            f"/v1/oqs/{message}",
            content=xml_of(tree, "cp932"),
            headers={**CLINIC_KEY, "Content-Type": "application/xml"},
        )
        head = read_xml(r.content)["MessageHeader"]
        assert r.status_code == 409 and (head["SegmentOfResult"], head["ErrorCode"]) == ("9", "READ_ONLY")


def test_a_locked_key_is_429_with_retry_after(tmp_path: Path) -> None:
    wrong = next(c["request"] for c in CASES if c["name"] == "birthdate mismatch looks like not found")
    with TestClient(app_on(tmp_path)) as c:
        raw = xml_of(single_tree(wrong), "cp932")
        headers = {**CLINIC_KEY, "Content-Type": "application/xml"}
        codes = [c.post(URL, content=raw, headers=headers) for _ in range(6)]
    assert [r.status_code for r in codes] == [200] * 5 + [429]  # ONSHI_KEY_MISS_LIMIT: five a day
    head = read_xml(codes[-1].content)["MessageHeader"]
    assert (head["SegmentOfResult"], head["ErrorCode"]) == ("9", "RATE_LIMITED")
    assert int(codes[-1].headers["retry-after"]) > 0


def test_a_bug_is_answered_not_dropped(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = client.app.gateway  # type: ignore[attr-defined]

    async def broken(*_: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setitem(gateway.handlers, "OQSsiquc01", (64 * 1024, broken))
    r = client.post(
        URL,
        content=xml_of(single_tree(CASES[0]["request"]), "cp932"),
        headers={**CLINIC_KEY, "Content-Type": "application/xml"},
    )
    head = read_xml(r.content)["MessageHeader"]
    assert r.status_code == 500 and (head["SegmentOfResult"], head["ErrorCode"]) == ("9", "INTERNAL_ERROR")
