"""change_log keeps no certificate serial (issue #20): a certificate's change names its
person, and migrating replaces the serials an earlier version recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import personal_values

SERIAL = "ABCDEF00000000FF"


def test_certificate_changes_name_the_person_not_the_serial(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state").start()
    try:
        row = {
            "certificate_serial": SERIAL,
            "person_id": "1",
            "issued_on": "2024-01-01",
            "expires_on": "2029-01-01",
        }
        status, answer = server.upsert({"certificates": [row]})
        assert status == 200, answer
    finally:
        server.stop()
    entries = query(loaded, "SELECT row_key, person_id FROM change_log WHERE table_name = 'certificates'")
    assert entries and all(e["row_key"] == "1" and e["person_id"] == 1 for e in entries)
    dump = str(query(loaded, "SELECT * FROM change_log"))
    assert SERIAL not in dump
    assert not {v for v in personal_values() if len(v) >= 12 and v in dump}


def test_migrating_replaces_the_serials_recorded_before(empty_db: str, tmp_path: Path) -> None:
    import asyncio
    import shutil

    import asyncpg

    from service.db.migrate import MIGRATIONS, migrate

    before = tmp_path / "before-008"
    before.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql"))[:7]:
        shutil.copy(path, before)

    async def go() -> list[Any]:
        conn = await asyncpg.connect(empty_db)
        try:
            await migrate(conn, before)
            await conn.execute(
                "INSERT INTO change_log (table_name, op, row_key, person_id) "
                "VALUES ('certificates', 'INSERT', $1, 7)",
                SERIAL,
            )
            await migrate(conn)
            return list(await conn.fetch("SELECT row_key FROM change_log WHERE table_name = 'certificates'"))
        finally:
            await conn.close()

    assert [r["row_key"] for r in asyncio.run(go())] == ["7"]
