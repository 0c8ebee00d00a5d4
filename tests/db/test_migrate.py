"""migrations/: applied in order, each in a transaction, recorded with a checksum, idempotent."""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg
import pytest

from service.db.migrate import MIGRATIONS, MigrationError, discover, migrate
from tests.db.conftest import query, run


async def _migrate(url: str, folder: Path = MIGRATIONS) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return await migrate(conn, folder)
    finally:
        await conn.close()


def test_applies_every_file_once(empty_db: str) -> None:
    names = [m.name for m in discover()]
    assert run(_migrate(empty_db)) == names
    assert run(_migrate(empty_db)) == []  # idempotent
    rows = query(empty_db, "SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    assert [r["name"] for r in rows] == names
    assert all(len(r["checksum"]) == 64 for r in rows)
    tables = {
        r["tablename"] for r in query(empty_db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert {"insurers", "persons", "qualifications", "documents", "certificates", "registrations"} <= tables
    assert {"institutions", "change_log", "access_log"} <= tables


def test_a_changed_applied_file_is_an_error(empty_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    run(_migrate(empty_db, folder))
    first = sorted(folder.glob("001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        run(_migrate(empty_db, folder))


def test_a_failing_file_leaves_nothing_behind(empty_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    count = len(discover(folder))
    (folder / f"{count + 1:03d}_broken.sql").write_text(
        "CREATE TABLE half_done (x int);\nSELECT no_such_function();\n"
    )
    with pytest.raises(asyncpg.PostgresError):
        run(_migrate(empty_db, folder))
    assert not query(empty_db, "SELECT 1 FROM pg_tables WHERE tablename = 'half_done'")
    assert len(query(empty_db, "SELECT 1 FROM schema_migrations")) == count


def test_numbering_gaps_are_refused(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("SELECT 1;")
    (tmp_path / "003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="without gaps"):
        discover(tmp_path)
