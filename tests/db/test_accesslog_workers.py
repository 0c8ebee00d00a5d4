"""Worker processes share one state directory: records kept in files while PostgreSQL is away
are saved once, none lost; a dead worker's unsaved file is saved by another."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core_ext._codes import MYNA_CARD, VALID
from core_ext._logline import access_line
from service.accesslog import SEALED, UNSAVED, AccessLog
from service.db.pool import Database
from tests.db.conftest import query

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/none"
AT = "2026-11-24T09:00:00.000+09:00"


def test_two_writers_keep_files_then_save_every_record_once(db: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        away = [Database(UNREACHABLE, 3.0) for _ in range(2)]
        back = [Database(db, 3.0) for _ in range(2)]
        writers = [AccessLog(tmp_path, database) for database in away]
        for w, writer in enumerate(writers):
            tmp_path.mkdir(exist_ok=True)
            for i in range(200):
                writer.pending += access_line(AT, "1310000019", MYNA_CARD, VALID, f"w{w}-{i}", 1, 2)
        await asyncio.gather(*(writer.flush() for writer in writers))  # both keep their files
        sealed = sorted(tmp_path.glob(f"{SEALED}*"))
        assert [p.read_bytes().count(b"\n") for p in sealed] == [200, 200]
        for writer, database in zip(writers, back, strict=True):
            writer.database = database
            late = access_line(
                "2026-11-24T09:00:01.000+09:00", "1310000019", MYNA_CARD, VALID, f"late-{id(writer)}", 1, 2
            )
            writer.pending += late
        await asyncio.gather(*(writer.flush() for writer in writers))
        await asyncio.gather(*(writer.flush() for writer in writers))  # a skipped claim is taken next round
        for writer in writers:
            await writer.stop()
        for database in away + back:
            await database.close()

    asyncio.run(scenario())
    ids = [r["request_id"] for r in query(db, "SELECT request_id FROM access_log")]
    expected = {f"w{w}-{i}" for w in range(2) for i in range(200)}
    assert expected <= set(ids)
    assert len([i for i in ids if not i.startswith("late-")]) == 400  # each exactly once
    assert len([i for i in ids if i.startswith("late-")]) == 2
    assert not list(tmp_path.glob("access-log.*"))
    assert query(db, "SELECT count(*) AS n FROM access_log_files")[0]["n"] == 0


def test_a_dead_workers_file_is_saved_once_even_after_a_crash_mid_save(db: str, tmp_path: Path) -> None:
    """The unsaved file of a worker gone without a flush is claimed and saved; a sealed file
    whose save committed before its deletion (a crash between the two) is not saved again."""
    lines = b"".join(access_line(AT, "1310000019", MYNA_CARD, VALID, f"dead-{i}", 1, 2) for i in range(50))
    (tmp_path / f"{UNSAVED}00000000000000000001-99999-1").write_bytes(lines)  # nobody holds its lock
    (tmp_path / f"{SEALED}00000000000000000002-99999-2").write_bytes(lines.replace(b"dead-", b"saved-"))
    query(db, "INSERT INTO access_log_files (name) VALUES ('00000000000000000002-99999-2') RETURNING name")

    async def scenario() -> None:
        database = Database(db, 3.0)
        writer = AccessLog(tmp_path, database)
        await writer.flush()
        await writer.stop()
        await database.close()

    asyncio.run(scenario())
    ids = [r["request_id"] for r in query(db, "SELECT request_id FROM access_log")]
    assert sorted(ids) == sorted(f"dead-{i}" for i in range(50))
    assert not list(tmp_path.glob("access-log.*"))
