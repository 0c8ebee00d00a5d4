"""The application factory: FastAPI for everything but the hot path, which sits in front."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from service.accesslog import AccessLog
from service.follower import Follower
from service.hotpath import HotPath
from service.loading import load_dataset
from service.metrics import OnshiCollector, RequestMetrics
from service.routes import admin, confirmations, ops
from service.settings import Settings
from service.state import Generation, ServiceState, generation_from

log = logging.getLogger("onshi")


def create_app(settings: Settings, generation: Generation | None = None) -> HotPath:
    """Build the ASGI app; without a ready generation the lifespan loads one off the loop.

    With a database (and no file source), the follower loads the snapshot and keeps it
    in step with change_log; readiness waits for the first load.
    """
    following = settings.source == "database"
    state = ServiceState(settings.source, settings.stale_after_seconds if following else None)
    state.current = generation
    access = AccessLog(Path(settings.state_dir), settings.database_url if following else None)
    follower = Follower(settings.database_url, state) if following and settings.database_url else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await access.start()
        if follower is not None:
            await follower.start()
        elif state.current is None:
            dataset = await asyncio.to_thread(load_dataset, settings)
            state.current = await asyncio.to_thread(generation_from, dataset)
            log.info(
                "snapshot %s loaded: %d persons, %d qualifications",
                state.current.version,
                state.current.persons,
                state.current.qualifications,
            )
        try:
            yield
        finally:
            if follower is not None:
                await follower.stop()
            await access.stop()  # every accepted confirmation is recorded before exit
            log.info("access log flushed: %d records written", access.written)

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
    app.state.access = access
    app.state.settings = settings
    app.include_router(confirmations.router)
    app.include_router(ops.router)
    app.include_router(admin.router)
    return HotPath(app, state, metrics, access)


def app_factory() -> HotPath:
    """Entry point for `uvicorn --factory` worker processes: settings from ONSHI_* variables."""
    return create_app(Settings())
