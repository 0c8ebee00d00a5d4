"""Follow PostgreSQL: load the snapshot, then apply change_log entries as they commit.

LISTEN/NOTIFY wakes the follower at once; a poll every second (the catch-up query by
seq) covers a missed notification, and a reconnect resumes from the last applied seq,
so nothing is lost.  Each batch of changes is folded into the in-memory mirror and a
new snapshot generation is built off the event loop, then swapped in with one
assignment: requests in flight keep the generation they started with.

While the database is unreachable the last generation keeps answering; the follower
retries with exponential backoff, and `ServiceState.synced_at` (the last successful
catch-up) tells the hot path when to add the SNAPSHOT_STALE warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg

from service.db.mirror import apply_changes, load_mirror
from service.mirror import Mirror
from service.state import Generation, ServiceState, generation_from, layered_generation

log = logging.getLogger("onshi.follower")

POLL_SECONDS = 1.0
# Fold the overlay into a new full snapshot once it holds this many persons, or
# when it is this old; until then each change costs an overlay build only.
FOLD_PERSONS = 20_000
FOLD_SECONDS = 300.0
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 5.0
CONNECT_TIMEOUT = 3.0
CHANNEL = "onshi_changes"


class Follower:
    """Keeps `state.current` in step with the database."""

    def __init__(self, url: str, state: ServiceState) -> None:
        self.url = url
        self.state = state
        self.mirror: Mirror | None = None
        self.base: Generation | None = None  # the last full build
        self.base_built = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the first snapshot (retrying until the database answers), then follow."""
        self._task = asyncio.create_task(self._run(), name="onshi-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT)
                await conn.add_listener(CHANNEL, self._notified)
                if self.mirror is None:
                    await self._reload(conn)
                backoff = BACKOFF_FIRST
                while True:
                    await self._catch_up(conn)
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any database trouble: keep serving, retry later
                log.warning("database unavailable (%s); retrying in %.1f s", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 1)

    async def _reload(self, conn: asyncpg.Connection) -> None:
        started = time.perf_counter()
        mirror = await load_mirror(conn)
        self.mirror = mirror
        await self._rebuild()
        gen = self.state.current
        assert gen is not None
        log.info(
            "snapshot loaded from the database in %.2f s: %d persons, %d qualifications, change seq %d",
            time.perf_counter() - started,
            gen.persons,
            gen.qualifications,
            mirror.seq,
        )

    async def _catch_up(self, conn: asyncpg.Connection) -> None:
        assert self.mirror is not None
        while True:
            changed = await apply_changes(conn, self.mirror)
            if changed is None:  # an import replaced everything
                await self._reload(conn)
                return
            if not changed:
                break
            await self._publish()
        if self.mirror.dirty and time.monotonic() - self.base_built > FOLD_SECONDS:
            await self._rebuild()
        self.state.synced_at = time.time()

    async def _publish(self) -> None:
        """Answer the applied changes: a small overlay over the base, or a full rebuild."""
        mirror = self.mirror
        assert mirror is not None and self.base is not None
        if mirror.dirty.insurers or len(mirror.dirty.persons) > FOLD_PERSONS:
            await self._rebuild()
            return
        gen = await asyncio.to_thread(layered_generation, self.base, mirror, mirror.seq)
        self._swap(gen)

    async def _rebuild(self) -> None:
        """A new full snapshot of every mirrored row (the rows are copied on the loop first)."""
        mirror = self.mirror
        assert mirror is not None
        dataset = mirror.dataset()
        dirty = mirror.dirty
        mirror.rebuilt()
        try:
            self.base = await asyncio.to_thread(generation_from, dataset, mirror.seq)
        except BaseException:
            mirror.dirty = dirty  # still answered by the old base and its overlay
            raise
        self.base_built = time.monotonic()
        self._swap(self.base)

    def _swap(self, gen: Generation) -> None:
        previous = self.state.current
        if previous is not None:
            gen.core.carry_counts(previous.core)
        self.state.current = gen
        self.state.synced_at = time.time()
