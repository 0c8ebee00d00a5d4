"""Stopping or cancelling the access-log writer in the middle of a COPY loses no record."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core_ext._codes import MYNA_CARD, VALID
from core_ext._logline import access_line
from service import accesslog
from service.accesslog import AccessLog
from service.db.pool import Database
from tests.db.conftest import query

AT = "2026-11-24T09:00:00.000+09:00"
COUNT = 100_000  # enough for the COPY to take a while


def records(prefix: str) -> bytes:
    return b"".join(
        access_line(AT, "1310000019", MYNA_CARD, VALID, f"{prefix}-{i}", 1, 2) for i in range(COUNT)
    )


async def until_taken(writer: AccessLog) -> None:
    """Until a flush has taken the pending records out of the buffer (its COPY is under way)."""
    while writer.pending:
        await asyncio.sleep(0)


def test_stop_while_the_writer_copies_waits_for_it(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accesslog, "FLUSH_SECONDS", 0)  # the periodic writer flushes continuously

    async def scenario() -> None:
        database = Database(db, 3.0)
        writer = AccessLog(tmp_path, database)
        await writer.start()
        writer.pending += records("stop")
        await until_taken(writer)
        await writer.stop()  # used to cancel the COPY, and the records with it
        await database.close()

    asyncio.run(scenario())
    assert query(db, "SELECT count(*) AS n FROM access_log WHERE request_id LIKE 'stop-%'")[0]["n"] == COUNT


def test_a_cancelled_save_leaves_its_file_for_the_next_flush(db: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        database = Database(db, 3.0)
        writer = AccessLog(tmp_path, database)
        writer.pending += records("cancel")
        flush = asyncio.create_task(writer.flush())
        await until_taken(writer)
        await asyncio.sleep(0.05)  # into the COPY
        writer.pending += access_line(AT, "1310000019", MYNA_CARD, VALID, "after", 1, 2)
        flush.cancel()
        with pytest.raises(asyncio.CancelledError):
            await flush
        sealed = list(tmp_path.glob(f"{accesslog.SEALED}*"))
        assert [p.read_bytes().count(b"\n") for p in sealed] == [COUNT]  # rolled back, kept
        await writer.stop()
        await database.close()

    asyncio.run(scenario())
    ids = [r["request_id"] for r in query(db, "SELECT request_id FROM access_log")]
    assert len(ids) == COUNT + 1 and set(ids) == {f"cancel-{i}" for i in range(COUNT)} | {"after"}
    assert not list(tmp_path.glob("access-log.*"))
    assert query(db, "SELECT count(*) AS n FROM access_log_files")[0]["n"] == 0
