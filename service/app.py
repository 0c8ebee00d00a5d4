"""The application factory: FastAPI for everything but the hot path, which sits in front."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from core_ext import CODE_NAMES
from service import openapi
from service.accesslog import AccessLog
from service.bulk import FileJobStore
from service.bulkdb import DatabaseJobStore
from service.db.pool import Database
from service.feed import Feed
from service.follower import STATE_SNAPSHOT, Follower
from service.hotpath import HotPath
from service.loading import source_generation
from service.metrics import OnshiCollector, RequestMetrics
from service.oqs.gateway import Gateway
from service.probing import ProbeGuard
from service.ratelimit import RateLimiter
from service.routes import admin, confirmations, ops, oqs
from service.settings import Settings
from service.state import Generation, ServiceState

log = logging.getLogger("onshi")


def create_app(settings: Settings, generation: Generation | None = None) -> HotPath:
    """Build the ASGI app; without a ready generation the lifespan loads one off the loop.

    With a database (and no file source), the follower loads the snapshot and keeps it
    in step with change_log; readiness waits for the first load.
    """
    following = settings.source == "database"
    state = ServiceState(settings.source, settings.stale_after_seconds if following else None)
    state.current = generation
    # One pool for the admin routes, the access log and the follower (service/db/pool.py).
    database = Database(settings.database_url, settings.connect_timeout) if settings.database_url else None
    # The follower's reads go to a standby when one is given (its own pool), else to the primary.
    reads = (
        Database(settings.database_read_url, settings.connect_timeout)
        if settings.database_read_url and database is not None
        else database
    )
    access = AccessLog(Path(settings.state_dir), database if following else None)
    # A published file, or the state directory's, written by one of this server's workers.
    followed = settings.snapshot or Path(settings.state_dir) / STATE_SNAPSHOT
    follower = (
        Follower(database, state, followed, publish=settings.snapshot is None, reads=reads)
        if following and database is not None
        else None
    )

    async def reload() -> Generation:
        """Build a new generation beside the current one, then swap it in with one assignment.

        Requests keep being answered from the old generation while the new one loads;
        an invalid source raises and leaves the old one serving.
        """
        gen = await asyncio.to_thread(source_generation, settings)
        previous = state.current
        if previous is not None:
            gen.core.carry_counts(previous.core)
        state.current = gen
        log.info(
            "reloaded: snapshot %s, %d persons, %d qualifications",
            gen.version,
            gen.persons,
            gen.qualifications,
        )
        return gen

    def reload_on_signal() -> None:
        async def run() -> None:
            try:
                await reload()
            except Exception:
                log.exception("reload failed; still serving the previous snapshot")

        asyncio.ensure_future(run())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if follower is None:
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not in the main thread
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_on_signal)
        await access.start()
        if follower is not None:
            await follower.start()
        elif state.current is None:
            state.current = await asyncio.to_thread(source_generation, settings)
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
            # Bulk jobs stop between steps; another start takes them up (service/bulk.py).
            await app.state.gateway.runner.stop()
            await access.stop()  # every accepted confirmation is recorded before exit
            log.info("access log flushed: %d records written", access.written)
            if database is not None:
                await database.close()
            if reads is not None and reads is not database:
                await reads.close()

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
            return {"age_seconds": 0.0, "persons": 0, "qualifications": 0, "overlay_persons": 0}
        return {
            "age_seconds": time.time() - gen.loaded_at,
            "persons": gen.persons,
            "qualifications": gen.qualifications,
            "overlay_persons": state.overlay_persons,
        }

    def code_counts() -> list[int]:
        gen = state.current
        return list(gen.core.code_counts) if gen is not None else [0] * len(CODE_NAMES)

    registry = CollectorRegistry()
    registry.register(OnshiCollector(metrics, state_info, code_counts))
    app.state.onshi = state
    app.state.registry = registry
    app.state.access = access
    app.state.settings = settings
    app.state.database = database
    app.state.reload = None if following else reload
    app.include_router(confirmations.router)
    app.include_router(ops.router)
    app.include_router(admin.router)
    app.include_router(oqs.router)
    openapi.install(app)
    # Always there: an institution may have a rate of its own (institutions.rate_limit)
    # while the server has none; without either, admitting costs two dictionary reads.
    limiter = RateLimiter(
        Path(settings.state_dir),
        settings.rate_limit or None,
        settings.rate_burst,
        settings.rate_limit_items or None,
    )
    guard = (
        ProbeGuard(Path(settings.state_dir), settings.miss_limit or None, settings.key_miss_limit or None)
        if settings.miss_limit or settings.key_miss_limit
        else None
    )
    hot = HotPath(app, state, metrics, access, limiter, guard)
    # Bulk jobs where every replica finds them: PostgreSQL when following one, else the state directory.
    jobs = (
        DatabaseJobStore(database)
        if following and database is not None
        else FileJobStore(Path(settings.state_dir))
    )
    hot.gateway = gateway = Gateway(hot, jobs, database if following else None)
    hot.feed = Feed(Path(settings.state_dir)) if settings.feed else None
    app.state.gateway = gateway
    return hot


def app_factory() -> HotPath:
    """Entry point for `uvicorn --factory` worker processes: settings from ONSHI_* variables."""
    return create_app(Settings())
