"""service.db.pool: connects on demand, never reuses a connection that failed, bounded in size."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from service.db.pool import POOL_SIZE, Database, DatabaseUnavailable
from tests.db.conftest import run

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/none"


def test_an_unreachable_server_is_database_unavailable_not_a_hang() -> None:
    async def scenario() -> None:
        database = Database(UNREACHABLE, 1.0)
        with pytest.raises(DatabaseUnavailable):
            async with database.connection():
                pass
        await database.close()

    run(scenario())
    assert issubclass(DatabaseUnavailable, OSError)  # caught wherever connection errors are


def test_a_connection_that_failed_in_use_is_closed_and_not_handed_out_again(db: str) -> None:
    async def scenario() -> None:
        database = Database(db, 3.0)
        async with database.connection() as conn:
            first = await conn.fetchval("SELECT pg_backend_pid()")
        with pytest.raises(asyncpg.UndefinedTableError):
            async with database.connection() as conn:
                assert await conn.fetchval("SELECT pg_backend_pid()") == first  # reused while healthy
                await conn.execute("SELECT * FROM no_such_table")
        async with database.connection() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") != first
            for _ in range(100):  # the failed one's backend is gone (closed, not parked in the pool)
                gone = not await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", first)
                if gone:
                    break
                await asyncio.sleep(0.02)
            assert gone
        await database.close()

    run(scenario())


def test_the_pool_never_holds_more_than_its_size(db: str) -> None:
    async def scenario() -> set[int]:
        database = Database(db, 3.0)
        pids: set[int] = set()

        async def borrow() -> None:
            async with database.connection() as conn:
                pids.add(await conn.fetchval("SELECT pg_backend_pid()"))
                await asyncio.sleep(0.05)

        await asyncio.gather(*(borrow() for _ in range(3 * POOL_SIZE)))
        await database.close()
        return pids

    assert 1 <= len(run(scenario())) <= POOL_SIZE
