"""The hot routes as FastAPI sees them: declared for the OpenAPI document.

`service.hotpath.HotPath` answers these paths before the router is reached; the
handlers below only run if the app is mounted without it, and then say so.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.schemas import BatchAnswer, ConfirmationAnswer

router = APIRouter(prefix="/v1/confirmations", tags=["confirmations"])


def _not_mounted() -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "NOT_READY", "message": "照会処理が起動していません。"}}, status_code=503
    )


# Bodies and answers as service/openapi.py states them (from the validator's rules).
@router.post("", response_model=ConfirmationAnswer, summary="Confirm one person's eligibility (資格確認)")
async def confirm(request: Request) -> JSONResponse:
    """Answered by the hot path in front of FastAPI."""
    return _not_mounted()


@router.post(
    "/batch", response_model=BatchAnswer, summary="Confirm up to 10,000 appointments at once (一括照会)"
)
async def confirm_batch(request: Request) -> JSONResponse:
    """Answered by the hot path in front of FastAPI."""
    return _not_mounted()
