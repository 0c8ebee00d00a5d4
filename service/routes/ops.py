"""Operations endpoints: liveness, readiness, snapshot facts, Prometheus metrics, the code catalogue."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service import catalogue

router = APIRouter(tags=["operations"])
CATALOGUE_JSON = orjson.dumps(catalogue.document())


@router.get("/v1/healthz")
async def healthz() -> dict[str, str]:
    """The process is running."""
    return {"status": "ok"}


@router.get("/v1/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 once the data is loaded, 503 while loading and from the moment a stop begins."""
    state = request.app.state.onshi
    if state.ready:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "stopping" if state.stopping else "loading"}, status_code=503)


@router.get("/v1/snapshot")
async def snapshot(request: Request) -> dict[str, Any]:
    """Version, source, size and freshness of the data being served."""
    return request.app.state.onshi.describe()  # type: ignore[no-any-return]


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/codes")
async def codes() -> Response:
    """The code catalogue: every code, its national and FHIR mappings, texts for staff and vendors."""
    return Response(CATALOGUE_JSON, media_type="application/json")
