"""Building OQS requests from the public examples, and reading answers, for the tests."""

from __future__ import annotations

import json
from typing import Any

from service.oqs.xmltree import parse_xml, render_xml
from tests.conftest import EXAMPLES

CLINIC = "2710000019"
PHARMACY = "2740000029"
CLINIC_KEY = {"Authorization": "Bearer demo-key-clinic"}
PHARMACY_KEY = {"Authorization": "Bearer demo-key-pharmacy"}


def number_path_cases() -> list[dict[str, Any]]:
    """Every public example that names a card's numbers (the only kind a national request carries)."""
    cases = json.loads((EXAMPLES / "cases.json").read_text())["cases"]
    return [case for case in cases if "insurer_number" in case["request"]]


def search_info(request: dict[str, Any]) -> dict[str, Any]:
    info = {
        "InsurerNumber": request["insurer_number"].rjust(8),
        "InsuredCardSymbol": request.get("symbol") or None,
        "InsuredIdentificationNumber": request["number"],
        "InsuredBranchNumber": request.get("branch"),
        "Birthdate": request["birthdate"].replace("-", ""),
        "LimitApplicationCertificateRelatedConsFlg": "1"
        if request.get("consent", {}).get("limit_info")
        else "0",
    }
    return {k: v for k, v in info.items() if v is not None}


def header(request: dict[str, Any], file_id: str = "test") -> dict[str, Any]:
    return {
        "QualificationConfirmationDate": request["confirmation_date"].replace("-", ""),
        "MedicalInstitutionCode": request["institution_code"],
        "ArbitraryFileIdentifier": file_id,
    }


def single_tree(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "MessageHeader": header(request),
        "MessageBody": {"QualificationConfirmSearchInfo": search_info(request)},
    }


def xml_of(tree: dict[str, Any], codec: str) -> bytes:
    return render_xml(tree, codec)


def read_xml(raw: bytes) -> dict[str, Any]:
    tree, _ = parse_xml(raw)
    return tree


def json_request(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON API request a national search is decided as."""
    return {**request, "presented": "unspecified"}


def expected_results(answer: dict[str, Any]) -> list[dict[str, str]]:
    """What ResultOfQualificationConfirmation must say, from the JSON API's answer."""
    qualifications = [answer["qualification"], *answer["alternatives"]] if answer["qualification"] else []
    person = answer["person"]
    out = []
    for q in qualifications:
        out.append(
            {
                "InsurerNumber": q["insurer_number"],  # padded to 8 on the wire; read back stripped
                "InsuredIdentificationNumber": q["number"],
                "InsuredBranchNumber": q["branch"],
                "PersonalFamilyClassification": str(q["relationship"]),
                "Name": person["name"],
                "Sex1": str(person["sex"]),
                "Birthdate": person["birthdate"].replace("-", ""),
                "QualificationDate": q["acquired_on"].replace("-", ""),
                "InsuredPartialContributionRatio": f"{q['copay_percent']:03d}",
                "InsurerName": q["insurer_name"],
                **({"InsuredCardSymbol": q["symbol"]} if q["symbol"] else {}),
                **({"DisqualificationDate": q["lost_on"].replace("-", "")} if q["lost_on"] else {}),
            }
        )
    return out


def compare(answer: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """Differences between a JSON API answer and an OQS MessageBody (empty when they agree)."""
    problems = []
    if body.get("QualificationValidity") != str(answer["validity"]):
        problems.append(f"QualificationValidity {body.get('QualificationValidity')} != {answer['validity']}")
    got = body.get("ResultList") or []
    results = [
        entry.get("ResultOfQualificationConfirmation") or entry.get("BulkConfirmUnit") for entry in got
    ]
    expected = expected_results(answer)
    if len(results) != len(expected):
        return [*problems, f"{len(results)} results, expected {len(expected)}"]
    for result, want in zip(results, expected, strict=True):
        for name, value in want.items():
            if result.get(name) != value:
                problems.append(f"{name} {result.get(name)!r} != {value!r}")
        limit = answer["qualification"].get("limit_category")
        if (
            limit
            and result.get("LimitApplicationCertificateRelatedInfo", {}).get(
                "LimitApplicationCertificateClassificationFlag"
            )
            != limit
        ):
            problems.append(f"limit category missing: {limit}")
        if (
            "limit_category" not in answer["qualification"]
            and "LimitApplicationCertificateRelatedInfo" in result
        ):
            problems.append("limit information without consent")
    code = answer["code"]
    if code != "VALID" and not body.get("ProcessingResultMessage"):
        problems.append("no ProcessingResultMessage for " + code)
    return problems


def first_day_bulk() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The examples of the first example's date (a national bulk has one date) and their OQSmuquc01 tree."""
    cases = number_path_cases()
    day = cases[0]["request"]["confirmation_date"]
    requests = [c["request"] for c in cases if c["request"]["confirmation_date"] == day]
    tree = {
        "MessageHeader": header(requests[0]),
        "MessageBody": {"QualificationConfirmSearchInfo": [search_info(r) for r in requests]},
    }
    return requests, tree
