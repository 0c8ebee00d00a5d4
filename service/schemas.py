"""Answer schemas of the confirmation API, for the OpenAPI document only.

The hot path never builds these models: it writes bytes in core_ext.  They exist so
/docs and /openapi.json describe the hot routes' answers (CONTRACT.md §2); the request
bodies are stated by service/openapi.py from the validator's own rules.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Code = Literal[
    "VALID",
    "VALID_MULTIPLE",
    "NOT_FOUND",
    "AMBIGUOUS",
    "NOT_YET_EFFECTIVE",
    "LOST",
    "SUPERSEDED",
    "NO_VALID_QUALIFICATION",
    "DOCUMENT_NOT_ISSUED",
    "DOCUMENT_EXPIRED",
    "INFO_NOTICE_ALONE",
    "PROXY_NOT_ALLOWED",
    "CERTIFICATE_UNKNOWN",
    "CERTIFICATE_INVALID",
    "FACE_AUTH_REQUIRED",
    "NOT_REGISTERED",
]


class Person(BaseModel):
    name: str
    name_kana: str | None
    sex: int
    birthdate: str


class Qualification(BaseModel):
    qualification_id: int
    insurer_number: str
    insurer_name: str
    symbol: str
    number: str
    branch: str | None
    relationship: int
    acquired_on: str
    lost_on: str | None
    copay_percent: int
    preschool: bool
    elderly_recipient: bool
    late_elderly: bool
    limit_category: str | None = Field(None, description="only with consent.limit_info = true")


class SnapshotRef(BaseModel):
    version: str
    applied_change_seq: int


class ConfirmationResult(BaseModel):
    checked_at: str
    confirmation_date: str
    eligible: bool
    code: Code
    validity: int | None
    message: str
    warnings: list[str]
    person: Person | None
    qualification: Qualification | None
    alternatives: list[Qualification]
    # 照会番号: the asking institution's own id for the person disclosed, when it registered one
    # (service/references.py); absent otherwise.
    reference_number: str | None = Field(default=None, max_length=50)


class ConfirmationAnswer(ConfirmationResult):
    request_id: str
    snapshot: SnapshotRef


class FieldError(BaseModel):
    field: str
    code: Literal["REQUIRED", "FORMAT", "CHECK_DIGIT", "LENGTH", "RANGE"]
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[FieldError] | None = None


class ErrorAnswer(BaseModel):
    error: ErrorDetail


class BatchAnswer(BaseModel):
    request_id: str
    checked_at: str
    results: list[ConfirmationResult | ErrorAnswer]
    snapshot: SnapshotRef
