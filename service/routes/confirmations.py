"""The hot routes as FastAPI sees them: declared for the OpenAPI document.

`service.hotpath.HotPath` answers these paths before the router is reached; the
handlers below only run if the app is mounted without it, and then say so.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.schemas import BatchAnswer, BatchRequest, ConfirmationAnswer, ConfirmationRequest, ErrorAnswer

router = APIRouter(prefix="/v1/confirmations", tags=["confirmations"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorAnswer, "description": text}
    for status, text in (
        (400, "MALFORMED_JSON"),
        (401, "UNAUTHENTICATED"),
        (403, "INSTITUTION_MISMATCH"),
        (413, "PAYLOAD_TOO_LARGE"),
        (415, "UNSUPPORTED_MEDIA_TYPE"),
        (422, "VALIDATION_ERROR"),
        (429, "RATE_LIMITED"),
        (503, "NOT_READY"),
    )
}


def _not_mounted() -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "NOT_READY", "message": "照会処理が起動していません。"}}, status_code=503
    )


@router.post(
    "",
    response_model=ConfirmationAnswer,
    responses=ERRORS,
    summary="Confirm one person's eligibility (資格確認)",
)
async def confirm(request: ConfirmationRequest) -> JSONResponse:
    """Answered by the hot path in front of FastAPI."""
    return _not_mounted()


@router.post(
    "/batch",
    response_model=BatchAnswer,
    responses=ERRORS,
    summary="Confirm up to 10,000 appointments at once (一括照会)",
)
async def confirm_batch(request: BatchRequest) -> JSONResponse:
    """Answered by the hot path in front of FastAPI."""
    return _not_mounted()
