"""A fresh PostgreSQL database per test (created, migrated, dropped); never any other database.

The server is 127.0.0.1:5432 with user postgres unless ONSHI_TEST_POSTGRES names
another maintenance URL (its database is only used to CREATE and DROP).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from service.db.migrate import migrate
from tests.conftest import EXAMPLES
from tests.processes import ONSHI

ADMIN_URL = os.environ.get("ONSHI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
ADMIN_TOKEN = "test-admin-token-" + "x" * 32


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def url_for(base: str, database: str) -> str:
    return base.rsplit("/", 1)[0] + "/" + database


async def _admin(base: str, sql: str) -> None:
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrated(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()


def fresh_database(base: str = ADMIN_URL, migrated: bool = True) -> Iterator[str]:
    name = f"onshi_test_{uuid.uuid4().hex[:12]}"
    run(_admin(base, f'CREATE DATABASE "{name}"'))
    url = url_for(base, name)
    try:
        if migrated:
            run(_migrated(url))
        yield url
    finally:
        run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def empty_db() -> Iterator[str]:
    """A new database with no tables."""
    yield from fresh_database(migrated=False)


@pytest.fixture
def db() -> Iterator[str]:
    """A new, migrated database."""
    yield from fresh_database()


@pytest.fixture
def cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster of its own (tests.db.cluster), started; removed after."""
    from tests.db.cluster import Cluster

    c = Cluster().init()
    c.start()
    try:
        yield c
    finally:
        c.remove()


@pytest.fixture
def loaded(db: str) -> str:
    """A new database with the public examples imported by `onshi import`."""
    result = subprocess.run(
        [str(ONSHI), "import", str(EXAMPLES / "data"), "--database-url", db], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return db


async def fetch(url: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def query(url: str, sql: str, *args: Any) -> list[Any]:
    """Run one query in a short-lived connection (tests are synchronous)."""
    return run(fetch(url, sql, *args))  # type: ignore[no-any-return]
