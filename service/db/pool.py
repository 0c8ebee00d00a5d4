"""The process's connections to PostgreSQL: one asyncpg pool, and the follower's LISTEN line.

The admin routes, the access log and the follower's queries borrow from one pool, made
in the app's lifespan.  It opens no connection until one is asked for, so a server
starts (and answers from its snapshot or the access log's files) while PostgreSQL is away.  The
follower's `LISTEN` needs a connection of its own for as long as it follows: a pooled
one would be handed to someone else between notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

POOL_SIZE = 4  # the follower, the access log and two admin requests at once
CLOSE_SECONDS = 2.0


class DatabaseUnavailable(ConnectionError):
    """No connection could be had (refused, timed out, or the server is not accepting any)."""


# What asyncpg raises when a connection cannot be made or breaks: the server is away.
CONNECTION_ERRORS = (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)


class Database:
    """Connections to one PostgreSQL server (the primary)."""

    def __init__(self, url: str, connect_timeout: float, size: int = POOL_SIZE) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self.size = size
        self._pool: asyncpg.Pool | None = None

    async def _opened(self) -> asyncpg.Pool:
        if self._pool is None:
            # min_size=0: nothing is connected until a connection is acquired.
            self._pool = await asyncpg.create_pool(
                self.url, min_size=0, max_size=self.size, timeout=self.connect_timeout
            )
        return self._pool

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection for one piece of work.  On any error it is closed, not reused:
        an interrupted COPY or a cancelled query leaves a connection in no state to share."""
        try:
            pool = await self._opened()
            conn = await pool.acquire(timeout=self.connect_timeout)
        except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:  # e.g. "the database is starting up"
            raise DatabaseUnavailable(f"{type(exc).__name__} connecting to PostgreSQL") from exc
        try:
            yield conn
        except BaseException:
            conn.terminate()
            raise
        finally:
            await pool.release(conn)

    async def listener(self) -> asyncpg.Connection:
        """A connection of its own, for LISTEN (the caller closes it)."""
        try:
            conn: asyncpg.Connection = await asyncpg.connect(self.url, timeout=self.connect_timeout)
        except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__} connecting to PostgreSQL") from exc
        return conn

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:  # gracefully, unless a connection is stuck
                await asyncio.wait_for(pool.close(), CLOSE_SECONDS)
            except Exception:
                pool.terminate()
