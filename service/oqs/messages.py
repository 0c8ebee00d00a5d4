"""The OQS message trees mapped to the JSON confirmation API and back (docs/oqs.md).

A search (`QualificationConfirmSearchInfo`) becomes one confirmation item with
`presented: "unspecified"` (the national request names no document); the JSON answer
becomes a `ResultOfQualificationConfirmation` per disclosed qualification.  Nothing is
decided here: the core decides, as for the JSON API.
"""

from __future__ import annotations

from typing import Any

from service.catalogue import BY_CODE
from service.clock import tokyo_now
from service.oqs.kana import half_width
from service.oqs.xmltree import Tree

# OQSCD003 処理結果区分
SEGMENT_DONE = "1"
SEGMENT_WORKING = "2"
SEGMENT_FAILED = "9"
# OQSCD004 処理結果状況
STATUS_NORMAL = "1"
STATUS_ERROR = "2"
# OQSCD005 文字コード識別, by codec
CHARACTER_CODE = {"utf-8": "0", "cp932": "1"}
# OQSCD002 照会区分: a search by the numbers of a card or certificate, or a My Number card
BY_INSURANCE_NUMBERS = "2"
BY_MY_NUMBER_CARD = "1"
# OQSCD010 被保険者証区分: 被保険者証（一般）; Onshi keeps no finer class (docs/oqs.md)
CARD_CLASS_GENERAL = "01"
# OQSCD011 限度額適用認定証区分: 02 for the low-income categories (標準負担額減額を伴う), else 01
LOW_INCOME_LIMITS = frozenset({"A05", "A06", "B05", "B06", "B07", "B08"})

# The JSON field each element of a search becomes (and the element named in errors).
SEARCH_FIELDS: dict[str, str] = {
    "InsurerNumber": "insurer_number",
    "InsuredCardSymbol": "symbol",
    "InsuredIdentificationNumber": "number",
    "InsuredBranchNumber": "branch",
    "Birthdate": "birthdate",
}
ELEMENT_OF_FIELD: dict[str, str] = {
    **{field: element for element, field in SEARCH_FIELDS.items()},
    "institution_code": "MedicalInstitutionCode",
    "confirmation_date": "QualificationConfirmationDate",
    "consent": "LimitApplicationCertificateRelatedConsFlg",
}


def text_of(tree: Any, name: str) -> str | None:
    """The text of element `name` of a tree, or None (absent, or not a text)."""
    if not isinstance(tree, dict):
        return None
    value = tree.get(name)
    return value if isinstance(value, str) else None


def iso_date(value: str | None) -> str | None:
    """YYYYMMDD as YYYY-MM-DD; anything else unchanged, for the validator to name."""
    if value is not None and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def oqs_date(value: str | None) -> str | None:
    return None if value is None else value.replace("-", "")


def header_fields(tree: Tree) -> dict[str, Any]:
    """The JSON fields of a request's MessageHeader (absent ones left out)."""
    header = tree.get("MessageHeader")
    fields: dict[str, Any] = {"institution_code": text_of(header, "MedicalInstitutionCode")}
    day = text_of(header, "QualificationConfirmationDate")
    if day:
        fields["confirmation_date"] = iso_date(day)
    return fields


def search_item(info: Any) -> dict[str, Any]:
    """One confirmation item of a QualificationConfirmSearchInfo."""
    item: dict[str, Any] = {"presented": "unspecified"}
    if not isinstance(info, dict):
        return item  # every field missing: the validator names them
    for element, field in SEARCH_FIELDS.items():
        value = text_of(info, element)
        if value is None:
            continue
        if field == "insurer_number":
            value = value.strip()  # 8 characters, a 6-digit number padded with spaces on the left
        elif field == "birthdate":
            value = iso_date(value)
        elif field == "branch" and value == "":
            continue  # an empty element: no branch given
        item[field] = value
    if text_of(info, "InsuredCardSymbol") is None and "insurer_number" in item:
        item["symbol"] = ""  # many cards have no symbol; the element is then left out
    item["consent"] = {"limit_info": text_of(info, "LimitApplicationCertificateRelatedConsFlg") == "1"}
    return item


def searches(tree: Tree) -> list[Any]:
    """The QualificationConfirmSearchInfo elements of a request body, as a list."""
    body = tree.get("MessageBody")
    found = body.get("QualificationConfirmSearchInfo") if isinstance(body, dict) else None
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def error_text(answer: dict[str, Any]) -> str:
    """An error answer's message, with each field named as its OQS element."""
    error = answer.get("error", {})
    parts = [str(error.get("message", ""))]
    for field in error.get("fields", []):
        element = ELEMENT_OF_FIELD.get(field.get("field", "").split(".")[0].split("[")[0], field.get("field"))
        parts.append(f"{element}: {field.get('message', '')}")
    return " ".join(part for part in parts if part)


def padded_insurer(number: str) -> str:
    return number.rjust(8)


def qualification_result(answer: dict[str, Any], qualification: dict[str, Any], consent: bool) -> Tree:
    """A ResultOfQualificationConfirmation of one disclosed qualification."""
    person = answer.get("person") or {}
    copay = qualification.get("copay_percent")
    ratio = None if copay is None else f"{copay:03d}"
    result: Tree = {
        "InsuredCardClassification": CARD_CLASS_GENERAL,
        "InsurerNumber": padded_insurer(qualification["insurer_number"]),
        "InsuredCardSymbol": qualification.get("symbol") or None,
        "InsuredIdentificationNumber": qualification.get("number"),
        "InsuredBranchNumber": qualification.get("branch"),
        "PersonalFamilyClassification": str(qualification.get("relationship", "")),
        "Name": person.get("name"),
        "NameKana": half_width(person["name_kana"]) if person.get("name_kana") else None,
        "Sex1": str(person.get("sex", "")),
        "Birthdate": oqs_date(person.get("birthdate")),
        "QualificationDate": oqs_date(qualification.get("acquired_on")),
        "DisqualificationDate": oqs_date(qualification.get("lost_on")),
        "InsuredPartialContributionRatio": ratio,
        "PreschoolClassification": "1" if qualification.get("preschool") else None,
        "InsurerName": qualification.get("insurer_name"),
    }
    if qualification.get("elderly_recipient"):
        result["ElderlyRecipientCertificateInfo"] = {"ElderlyRecipientContributionRatio": ratio}
    if consent:
        result["LimitApplicationCertificateRelatedConsFlg"] = "1"
        category = qualification.get("limit_category")
        if category:
            result["LimitApplicationCertificateRelatedInfo"] = {
                "LimitApplicationCertificateClassification": "02" if category in LOW_INCOME_LIMITS else "01",
                "LimitApplicationCertificateClassificationFlag": category,
            }
    if answer.get("reference_number"):
        result["ReferenceNumber"] = answer["reference_number"]
    return result


def result_fields(answer: dict[str, Any], consent: bool) -> Tree:
    """ProcessingResultStatus … ResultList of a decided answer (or an item's error)."""
    if "error" in answer:
        code = answer["error"].get("code", "VALIDATION_ERROR")
        return {
            "ProcessingResultStatus": STATUS_ERROR,
            "ProcessingResultCode": BY_CODE[code].processing_result_code if code in BY_CODE else None,
            "ProcessingResultMessage": error_text(answer),
        }
    code = answer["code"]
    fields: Tree = {"ProcessingResultStatus": STATUS_NORMAL}
    if code != "VALID":
        fields["ProcessingResultCode"] = BY_CODE[code].processing_result_code
        fields["ProcessingResultMessage"] = answer.get("message")
    if answer.get("validity") is not None:
        fields["QualificationValidity"] = str(answer["validity"])
    qualifications = (
        [answer["qualification"], *answer.get("alternatives", [])] if answer.get("qualification") else []
    )
    if qualifications:
        fields["ResultList"] = [
            {"ResultOfQualificationConfirmation": qualification_result(answer, q, consent)}
            for q in qualifications
        ]
    return fields


def response_header(
    request: Tree, codec: str, executed_at: str, segment: str, error: tuple[str, str] | None = None
) -> Tree:
    """The MessageHeader of an answer: the request's fields echoed, then the result's."""
    header = request.get("MessageHeader") if isinstance(request.get("MessageHeader"), dict) else {}
    out: Tree = {
        "ProcessExecutionTime": executed_at,
        "QualificationConfirmationDate": text_of(header, "QualificationConfirmationDate"),
        "MedicalInstitutionCode": text_of(header, "MedicalInstitutionCode"),
        "ArbitraryFileIdentifier": text_of(header, "ArbitraryFileIdentifier"),
        "ReferenceClassification": BY_INSURANCE_NUMBERS,
        "SegmentOfResult": segment,
    }
    if error is not None:
        out["ErrorCode"], out["ErrorMessage"] = error
    out["CharacterCodeIdentifier"] = CHARACTER_CODE[codec]
    return out


def execution_time(checked_at: str) -> str:
    """ProcessExecutionTime (YYYYMMDDhhmmss, Japan) of an ISO 8601 time in +09:00."""
    return checked_at[:19].replace("-", "").replace("T", "").replace(":", "")


def execution_time_now() -> str:
    """ProcessExecutionTime of now (an answer that decided nothing)."""
    return execution_time(tokyo_now()[1])
