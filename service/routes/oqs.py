"""The routes beside the hot path as FastAPI sees them: declared for the OpenAPI document.

`service.oqs.gateway.Gateway` answers them in front of FastAPI (HotPath hands them over);
the handlers below run only if the app is mounted without it.  service/openapi.py states
their bodies and answers.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

router = APIRouter(tags=["national interface, bulk and feed"])
Message = Literal["OQSsiquc01", "OQSmuquc01", "OQSmuquc02", "OQSsiimm01", "OQSmuimm01", "OQSmuimm02"]


def _not_mounted() -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "NOT_READY", "message": "照会処理が起動していません。"}}, status_code=503
    )


@router.post(
    "/v1/oqs/{message}", summary="A national OQS message (XML in Shift_JIS or UTF-8, or XmlMsg JSON)"
)
async def oqs_message(message: Message) -> JSONResponse:
    """Answered by the gateway in front of FastAPI (docs/oqs.md)."""
    return _not_mounted()


@router.post("/v1/bulk", summary="Accept up to 1,000,000 confirmations, decided in the background")
async def bulk_accept() -> JSONResponse:
    """Answered by the gateway in front of FastAPI."""
    return _not_mounted()


@router.get("/v1/bulk/{job_id}", summary="A bulk job: 202 with its progress, then 200 with NDJSON results")
async def bulk_results(job_id: str) -> JSONResponse:
    """Answered by the gateway in front of FastAPI."""
    return _not_mounted()


@router.get("/v1/confirmations/feed", summary="This institution's card-path answers as server-sent events")
async def confirmation_feed() -> JSONResponse:
    """Answered by the gateway in front of FastAPI (ONSHI_FEED)."""
    return _not_mounted()
