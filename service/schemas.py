"""Request and answer schemas of the confirmation API, for the OpenAPI document only.

The hot path never builds these models: it parses bytes in core_ext.  They exist so
/docs and /openapi.json describe the hot routes exactly (CONTRACT.md §2).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Presented = Literal["myna_card", "legacy_card", "eligibility_certificate", "info_notice", "unspecified"]
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


class Consent(BaseModel):
    limit_info: bool = False


class ConfirmationItem(BaseModel):
    """One confirmation; which fields are needed depends on `presented`."""

    confirmation_date: str | None = Field(None, description="YYYY-MM-DD; default today in Asia/Tokyo")
    presented: Presented
    certificate_serial: str | None = Field(None, description="myna_card: 1-32 hex characters")
    auth_method: Literal["face", "pin", "visual"] | None = Field(None, description="myna_card")
    insurer_number: str | None = Field(None, description="number path: 6 or 8 digits")
    symbol: str | None = Field(None, description="number path; may be empty")
    number: str | None = Field(None, description="number path")
    branch: str | None = Field(None, description="number path, optional: 2 digits")
    birthdate: str | None = Field(None, description="number path: YYYY-MM-DD")
    identity_verified: bool | None = Field(None, description="info_notice: the My Number card was checked")
    proxy: bool = False
    consent: Consent | None = None


class ConfirmationRequest(ConfirmationItem):
    institution_code: str = Field(description="10 digits; must be the API key's institution")


class BatchRequest(BaseModel):
    institution_code: str
    confirmation_date: str | None = None
    items: list[ConfirmationItem] = Field(max_length=10_000)


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
