"""A COPY or `executemany` paused by flow control when its connection is lost fails at once
(service.db.pool.wake_writers_on_loss), instead of waiting for ever as asyncpg alone does."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from service.db.pool import Database, connect
from tests.db.conftest import run

ROWS = 200_000  # several of asyncpg's 512 KiB COPY buffers


async def _cut_off(url: str, conn: asyncpg.Connection, work: Any) -> BaseException:
    await conn.execute("CREATE TEMP TABLE t (a bigint, b text)")
    conn._protocol.pause_writing()  # noqa: SLF001 (as a full socket buffer does)
    task = asyncio.ensure_future(work(conn))
    await asyncio.sleep(0.3)
    assert not task.done()  # waiting to write
    killer = await asyncpg.connect(url)
    try:
        await killer.fetchval("SELECT pg_terminate_backend($1)", conn.get_server_pid())
    finally:
        await killer.close()
    try:
        await asyncio.wait_for(task, 10)
    except TimeoutError:  # (an OSError: caught first)
        raise AssertionError("still waiting to write 10 s after the connection was lost") from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        return error
    raise AssertionError("the statement did not fail")


def copy(conn: asyncpg.Connection) -> Any:
    return conn.copy_records_to_table("t", records=((i, "x" * 20) for i in range(ROWS)))


def many(conn: asyncpg.Connection) -> Any:
    return conn.executemany("INSERT INTO t VALUES ($1, $2)", [(i, "x" * 20) for i in range(ROWS)])


@pytest.mark.parametrize("work", [copy, many], ids=["copy", "executemany"])
def test_a_connection_of_its_own(db: str, work: Any) -> None:
    async def main() -> BaseException:
        return await _cut_off(db, await connect(db), work)

    assert isinstance(run(main()), BaseException)


@pytest.mark.parametrize("work", [copy, many], ids=["copy", "executemany"])
def test_a_pooled_connection(db: str, work: Any) -> None:
    async def main() -> BaseException:
        database = Database(db, 3.0)
        try:
            async with database.connection() as conn:
                return await _cut_off(db, conn, work)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            return error
        finally:
            await database.close()

    assert isinstance(run(main()), BaseException)


@pytest.mark.slow
def test_without_the_listener_asyncpg_waits(db: str) -> None:
    """The bug itself, so the test above cannot pass for another reason."""

    async def main() -> bool:
        conn = await asyncpg.connect(db)
        try:
            await _cut_off(db, conn, copy)
        except AssertionError as error:
            return "still waiting" in str(error)
        finally:
            conn.terminate()
        return False

    assert run(main())
