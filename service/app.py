"""The application factory: FastAPI for everything but the hot path, which sits in front."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from service.hotpath import HotPath
from service.loading import load_dataset
from service.metrics import OnshiCollector, RequestMetrics
from service.routes import confirmations, ops
from service.settings import Settings
from service.state import Generation, ServiceState, generation_from

log = logging.getLogger("onshi")


def create_app(settings: Settings, generation: Generation | None = None) -> HotPath:
    """Build the ASGI app; without a ready generation the lifespan loads one off the loop."""
    state = ServiceState(settings.source)
    state.current = generation

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.current is None:
            dataset = await asyncio.to_thread(load_dataset, settings)
            state.current = await asyncio.to_thread(generation_from, dataset)
            log.info(
                "snapshot %s loaded: %d persons, %d qualifications",
                state.current.version,
                state.current.persons,
                state.current.qualifications,
            )
        yield

    app = FastAPI(
        title="Onshi",
        summary="Online eligibility verification for Japanese health insurance (オン資)",
        version="0.1.0",
        lifespan=lifespan,
    )
    metrics = RequestMetrics()

    def state_info() -> dict[str, float]:
        gen = state.current
        if gen is None:
            return {"age_seconds": 0.0, "persons": 0, "qualifications": 0}
        return {
            "age_seconds": time.time() - gen.loaded_at,
            "persons": gen.persons,
            "qualifications": gen.qualifications,
        }

    def code_counts() -> list[int]:
        gen = state.current
        return list(gen.core.code_counts) if gen is not None else [0] * 16

    registry = CollectorRegistry()
    registry.register(OnshiCollector(metrics, state_info, code_counts))
    app.state.onshi = state
    app.state.registry = registry
    app.include_router(confirmations.router)
    app.include_router(ops.router)
    return HotPath(app, state, metrics)


def app_factory() -> HotPath:
    """Entry point for `uvicorn --factory` worker processes: settings from ONSHI_* variables."""
    return create_app(Settings())
