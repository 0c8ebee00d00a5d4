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


def wake_writers_on_loss(conn: asyncpg.Connection) -> None:
    """Make a lost connection fail a COPY or `executemany` that waits to write, not hang it.

    asyncpg (0.29-0.32) pauses a COPY or `executemany` while the socket's buffer is full
    (`writing_allowed` cleared) and resumes it when the buffer drains; a connection lost
    meanwhile (PostgreSQL crashed or restarted) never drains, and nothing sets the event
    again, so the statement waits for ever (seen under load: an import and an upsert cut
    off by `pg_ctl stop -m immediate` hung past 60 s).  A termination listener sets it: the
    writer wakes, writes into the closed transport (a no-op) and gets the connection's error.
    """
    protocol = conn._protocol  # noqa: SLF001 (the flow-control event lives there)
    conn.add_termination_listener(lambda _: protocol.writing_allowed.set())


async def _on_new_connection(conn: asyncpg.Connection) -> None:
    wake_writers_on_loss(conn)


async def connect(url: str, timeout: float = 60.0) -> asyncpg.Connection:
    """One connection of its own (the one-shot commands, LISTEN), with `wake_writers_on_loss`."""
    conn: asyncpg.Connection = await asyncpg.connect(url, timeout=timeout)
    wake_writers_on_loss(conn)
    return conn


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
                self.url,
                min_size=0,
                max_size=self.size,
                timeout=self.connect_timeout,
                init=_on_new_connection,
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
            conn = await connect(self.url, timeout=self.connect_timeout)
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
