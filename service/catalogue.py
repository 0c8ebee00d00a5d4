"""The code catalogue (GET /v1/codes, docs/codes.md): every code an answer can carry.

For each decision code (RULES.md §4) and each error code: its national
`QualificationValidity`, the `ProcessingResultCode` Onshi's national interface uses for it
(Onshi's own namespace `ONS…`: the national code list is given to vendors only, so no
national value is claimed), its FHIR mapping, the Japanese text for reception staff with
the next action, and a hint for the system vendor.  Decision texts and validities come
from the core's table (core_ext OUTCOMES), their one home; tests check that every code
raised anywhere is here.  Bump VERSION whenever an entry changes meaning.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from core_ext import OUTCOMES

VERSION = "2026-12-04.1"
FHIR_CODE_SYSTEM = "urn:onshi:code"


class Entry(NamedTuple):
    code: str
    kind: str  # "decision" (HTTP 200, a decided confirmation) or "error"
    http_status: int
    qualification_validity: int | None  # OQSCD006; None: the nation has no value for it
    processing_result_code: str  # ProcessingResultCode on the national interface
    fhir: dict[str, Any]
    message: str  # for reception staff: what happened and what to do next
    vendor_hint: str


# Per decision code: (ProcessingResultCode, FHIR outcome, vendor hint).  The Japanese
# message and the validity are the core's.
DECISIONS: dict[str, tuple[str, str, str]] = {
    "VALID": ("ONS000", "complete", "Register the qualification as the visit's insurance and use its copay."),
    "VALID_MULTIPLE": (
        "ONS001",
        "complete",
        "Show the qualification and every alternative (every ResultList entry); staff pick the one used.",
    ),
    "NOT_FOUND": (
        "ONS002",
        "error",
        "Ask staff to re-check symbol, number, branch and birthdate; nothing personal is disclosed.",
    ),
    "AMBIGUOUS": ("ONS003", "error", "Make the branch field required and confirm again."),
    "NOT_YET_EFFECTIVE": ("ONS004", "complete", "Show the start date (acquired_on / QualificationDate)."),
    "LOST": (
        "ONS005",
        "complete",
        "Show the loss date (lost_on / DisqualificationDate) and prompt for the current insurance.",
    ),
    "SUPERSEDED": (
        "ONS006",
        "complete",
        "Prompt a new confirmation with the new insurance (My Number card or eligibility certificate).",
    ),
    "NO_VALID_QUALIFICATION": (
        "ONS007",
        "complete",
        "Show that nothing is valid on the day and point the patient to their insurer.",
    ),
    "DOCUMENT_NOT_ISSUED": (
        "ONS008",
        "complete",
        "Check `presented` against the document shown; confirm again with another document.",
    ),
    "DOCUMENT_EXPIRED": (
        "ONS009",
        "complete",
        "E.g. a legacy card past its cut-off: confirm again with the My Number card or a certificate.",
    ),
    "INFO_NOTICE_ALONE": (
        "ONS010",
        "error",
        "Send identity_verified=true only when the My Number card was shown and checked.",
    ),
    "PROXY_NOT_ALLOWED": (
        "ONS011",
        "error",
        "For a proxy visit confirm with the eligibility certificate (presented=eligibility_certificate).",
    ),
    "CERTIFICATE_UNKNOWN": (
        "ONS012",
        "error",
        "Send the certificate serial exactly as the card reader read it.",
    ),
    "CERTIFICATE_INVALID": (
        "ONS013",
        "error",
        "Show a screen that points the patient to the certificate renewal at the municipality.",
    ),
    "FACE_AUTH_REQUIRED": ("ONS014", "error", "Confirm again with auth_method=face or visual."),
    "NOT_REGISTERED": ("ONS015", "error", "Show how to register the card for health insurance use."),
}

# Error codes: (HTTP status (0: not an HTTP answer, written by the folder bridge),
# ProcessingResultCode, FHIR OperationOutcome issue type,
# message for staff, vendor hint).
ERRORS: dict[str, tuple[int, str, str, str, str]] = {
    "MALFORMED_JSON": (
        400,
        "ONS900",
        "structure",
        "照会の形式が正しくありません。システム会社に連絡してください。",
        'Send a UTF-8 JSON object (for OQS messages: {"XmlMsg": ...}).',
    ),
    "MALFORMED_XML": (
        400,
        "ONS901",
        "structure",
        "照会の形式が正しくありません。システム会社に連絡してください。",
        "Send well-formed XML rooted at XmlMsg, in the encoding its declaration names.",
    ),
    "FORBIDDEN_XML": (
        400,
        "ONS902",
        "security",
        "照会の形式が正しくありません。システム会社に連絡してください。",
        "XML with a DOCTYPE or entity declarations is refused; leave them out.",
    ),
    "UNSUPPORTED_ENCODING": (
        400,
        "ONS903",
        "structure",
        "照会の文字コードに対応していません。システム会社に連絡してください。",
        "Declare Shift_JIS or UTF-8.",
    ),
    "UNKNOWN_MESSAGE": (
        404,
        "ONS904",
        "not-supported",
        "この電文には対応していません。システム会社に連絡してください。",
        "The messages served are listed in docs/oqs.md.",
    ),
    "UNKNOWN_PATH": (
        404,
        "ONS905",
        "not-found",
        "接続先の設定に誤りがあります。システム会社に連絡してください。",
        "The paths served are in the OpenAPI document (/openapi.json) and docs/oqs.md.",
    ),
    "METHOD_NOT_ALLOWED": (
        405,
        "ONS906",
        "not-supported",
        "接続先の設定に誤りがあります。システム会社に連絡してください。",
        "POST for confirmations and messages, GET for /v1/bulk/{id} and the feed.",
    ),
    "FEED_NOT_ENABLED": (
        404,
        "ONS907",
        "not-supported",
        "カードリーダーの確認結果の配信はこのサーバーでは使えません。システム会社に連絡してください。",
        "The server's operator turns the feed on with ONSHI_FEED=true.",
    ),
    "UNREADABLE_FILE": (
        0,
        "ONS908",
        "structure",
        "照会ファイルを読めませんでした。照会をやり直してください。",
        "Written by the folder bridge into res/: the request file could not be read; it is in req_failed/.",
    ),
    "SERVER_UNAVAILABLE": (
        0,
        "ONS955",
        "transient",
        "資格確認サーバーに接続できませんでした。しばらくしてから再度照会してください。",
        "Written by the folder bridge into res/ after --give-up seconds without an answer.",
    ),
    "UNAUTHENTICATED": (
        401,
        "ONS910",
        "login",
        "接続の設定に誤りがあります。システム会社に連絡してください。",
        "Send Authorization: Bearer <API key>.",
    ),
    "INSTITUTION_MISMATCH": (
        403,
        "ONS911",
        "forbidden",
        "医療機関等コードの設定に誤りがあります。システム会社に連絡してください。",
        "institution_code / MedicalInstitutionCode must be the institution of the key (and certificate).",
    ),
    "PAYLOAD_TOO_LARGE": (
        413,
        "ONS912",
        "too-costly",
        "一度に照会できる件数を超えています。分けて照会してください。",
        "Single 64 KiB; batch 8 MiB and 10,000 items; OQS bulk 64 MiB; /v1/bulk 256 MiB and 1,000,000 items.",
    ),
    "UNSUPPORTED_MEDIA_TYPE": (
        415,
        "ONS913",
        "structure",
        "照会の形式が正しくありません。システム会社に連絡してください。",
        "Content-Type application/json (OQS messages also application/xml or text/xml).",
    ),
    "VALIDATION_ERROR": (
        422,
        "ONS920",
        "invalid",
        "入力内容に誤りがあります。表示された項目を確認して再度照会してください。",
        "`fields` (on OQS: ErrorMessage) names each field and the reason.",
    ),
    "RATE_LIMITED": (
        429,
        "ONS930",
        "throttled",
        "照会が集中しています。しばらく待ってから再度照会してください。",
        "Wait the Retry-After seconds; space out automatic retries.",
    ),
    "BULK_NOT_FOUND": (
        404,
        "ONS940",
        "not-found",
        "一括照会の受付番号が見つかりません。照会をやり直してください。",
        "A reception number is answered only to its institution, for 24 hours after acceptance.",
    ),
    "READ_ONLY": (
        409,
        "ONS941",
        "not-supported",
        "この機能は現在の運用では使えません。システム会社に連絡してください。",
        "Not available on a server serving files; it needs the database.",
    ),
    "NOT_RELOADABLE": (
        409,
        "ONS942",
        "not-supported",
        "データベースの変更は自動で反映されます。再読み込みは不要です。",
        "POST /v1/admin/reload is for file sources; a database source follows its changes itself.",
    ),
    "RELOAD_FAILED": (
        422,
        "ONS943",
        "invalid",
        "新しいデータに誤りがあるため、前のデータで回答を続けています。",
        "`problems` lists what is wrong (FILE:LINE: column: reason); fix the data set and reload again.",
    ),
    "REQUEST_TIMEOUT": (
        408,
        "ONS950",
        "timeout",
        "通信が途中で止まりました。再度照会してください。",
        "Send the whole body within the body timeout (30 s by default).",
    ),
    "NOT_READY": (
        503,
        "ONS951",
        "transient",
        "サーバーが準備中です。しばらくしてから再度照会してください。",
        "Wait until /v1/readyz answers 200, then send again.",
    ),
    "OVERLOADED": (
        503,
        "ONS952",
        "transient",
        "サーバーが混み合っています。しばらくしてから再度照会してください。",
        "Send again after a pause.",
    ),
    "ACCESS_LOG_UNAVAILABLE": (
        503,
        "ONS953",
        "transient",
        "照会記録を保存できないため回答できません。しばらくしてから再度照会してください。",
        "Nothing is answered that cannot be recorded; send again after a pause.",
    ),
    "DATABASE_UNAVAILABLE": (
        503,
        "ONS954",
        "transient",
        "データベースに接続できません。しばらくしてから再度操作してください。",
        "Send the same request again; it is applied whole or not at all.",
    ),
    "INTERNAL_ERROR": (
        500,
        "ONS999",
        "exception",
        "内部エラーが発生しました。時間をおいて再度照会してください。",
        "If it recurs, report the X-Request-ID to operations.",
    ),
}


def _entries() -> tuple[Entry, ...]:
    entries = []
    for outcome in OUTCOMES:
        result_code, fhir_outcome, hint = DECISIONS[outcome.name]
        fhir = {
            "resource": "CoverageEligibilityResponse",
            "outcome": fhir_outcome,
            "insurance.inforce": outcome.eligible if outcome.discloses else None,
            "code": {"system": FHIR_CODE_SYSTEM, "code": outcome.name},
        }
        entries.append(
            Entry(outcome.name, "decision", 200, outcome.validity, result_code, fhir, outcome.message, hint)
        )
    for code, (status, result_code, issue, message, hint) in ERRORS.items():
        fhir = {
            "resource": "OperationOutcome",
            "issue.severity": "error",
            "issue.code": issue,
            "issue.details": {"system": FHIR_CODE_SYSTEM, "code": code},
        }
        entries.append(Entry(code, "error", status, None, result_code, fhir, message, hint))
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = _entries()
BY_CODE: dict[str, Entry] = {entry.code: entry for entry in ENTRIES}


def document() -> dict[str, Any]:
    """The catalogue as GET /v1/codes answers it."""
    return {"version": VERSION, "codes": [entry._asdict() for entry in ENTRIES]}


def markdown() -> str:
    """docs/codes.md, derived from the entries (`python -m service.catalogue > docs/codes.md`)."""
    lines = [
        "# Code catalogue",
        "",
        f"Version {VERSION}. Generated from `service/catalogue.py`",
        "(`python -m service.catalogue > docs/codes.md`);",
        "served as `GET /v1/codes`. `QualificationValidity` is the national OQSCD006 value (blank:",
        "the nation has none); `ProcessingResultCode` is Onshi's own namespace (`ONS…`), used on the",
        "national interface (docs/oqs.md); FHIR codes use the system `" + FHIR_CODE_SYSTEM + "`.",
        "",
        "| code | kind | HTTP | QualificationValidity | ProcessingResultCode | FHIR "
        "| message for reception staff | hint for the system vendor |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e in ENTRIES:
        if e.kind == "decision":
            inforce = e.fhir["insurance.inforce"]
            fhir = f"CoverageEligibilityResponse outcome={e.fhir['outcome']}, inforce={inforce}"
        else:
            fhir = f"OperationOutcome issue.code={e.fhir['issue.code']}"
        validity = "" if e.qualification_validity is None else str(e.qualification_validity)
        lines.append(
            f"| {e.code} | {e.kind} | {e.http_status} | {validity} | {e.processing_result_code} | {fhir} "
            f"| {e.message} | {e.vendor_hint} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
