"""`onshi import`: validated, COPY in one transaction, all or nothing, one change_log entry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import asyncpg

from service.dataset import load_dir
from service.db.importer import import_dataset
from service.db.snapshot import read_tables, rebuild_snapshot
from tests.conftest import EXAMPLES
from tests.db.conftest import query, run
from tests.processes import ONSHI

DATA = EXAMPLES / "data"


def onshi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ONSHI), *args], capture_output=True, text=True, timeout=120)


def counts(url: str) -> dict[str, int]:
    tables = (
        "insurers",
        "persons",
        "qualifications",
        "documents",
        "certificates",
        "registrations",
        "institutions",
    )
    return {t: query(url, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in tables}


def test_import_loads_every_row_and_logs_one_change(db: str) -> None:
    result = onshi("import", str(DATA), "--database-url", db)
    assert result.returncode == 0, result.stderr
    assert "rows/s" in result.stdout
    lines = {
        name: (DATA / f"{name}.csv").read_text(encoding="utf-8").strip().splitlines() for name in counts(db)
    }
    expected = {name: len(rows) - 1 for name, rows in lines.items()}
    assert counts(db) == expected
    log = query(db, "SELECT table_name, op FROM change_log")
    assert [(r["table_name"], r["op"]) for r in log] == [("*", "import")]


def test_keys_are_stored_only_as_hashes(db: str) -> None:
    assert onshi("import", str(DATA), "--database-url", db).returncode == 0
    dump = str(query(db, "SELECT * FROM institutions"))
    assert "demo-key-clinic" not in dump
    assert all(len(r["api_key_sha256"]) == 64 for r in query(db, "SELECT api_key_sha256 FROM institutions"))


def test_reimport_replaces_and_the_database_round_trips(db: str) -> None:
    data = load_dir(DATA)

    async def go() -> None:
        conn = await asyncpg.connect(db)
        try:
            await import_dataset(conn, data)
            await import_dataset(conn, data)
            back = await read_tables(conn)
            loaded = await rebuild_snapshot(conn)
        finally:
            await conn.close()
        for table in ("insurers", "persons", "qualifications", "documents", "certificates", "registrations"):
            key = lambda row: tuple(map(str, row))  # noqa: E731
            assert sorted(getattr(back, table), key=key) == sorted(getattr(data.tables, table), key=key), (
                table
            )
        assert loaded.institutions.keys == data.institutions
        assert loaded.seq == 2

    run(go())


def test_invalid_data_loads_nothing(db: str, tmp_path: Path) -> None:
    assert onshi("import", str(DATA), "--database-url", db).returncode == 0
    before = counts(db)
    bad = tmp_path / "data"
    shutil.copytree(DATA, bad)
    with (bad / "qualifications.csv").open("a", encoding="utf-8") as f:
        f.write("999,1,06270011,7-10,123,00,1,2020-04-01,,general,\n")  # key in force for two persons
        f.write("998,77,06270011,7-10,555,00,1,2020-04-01,,general,\n")  # no such person
    result = onshi("import", str(bad), "--database-url", db)
    assert result.returncode == 1
    assert "qualifications.csv:" in result.stderr and "person_id" in result.stderr
    assert counts(db) == before
    assert len(query(db, "SELECT 1 FROM change_log")) == 1


def test_migrate_command_is_idempotent(empty_db: str) -> None:
    first = onshi("migrate", "--database-url", empty_db)
    assert first.returncode == 0 and first.stdout.startswith("applied: 001_")
    again = onshi("migrate", "--database-url", empty_db)
    assert again.returncode == 0 and again.stdout.strip() == "up to date"
