"""Apply migrations/NNN_*.sql in order, each in a transaction, recorded with a checksum."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

# The package's migrations/ (a link to the top-level folder in a checkout, files in a wheel).
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
NAME = re.compile(r"(\d{3})_[a-z0-9_]+\.sql")
# Two servers or operators migrating at once must not both apply the same file.
LOCK_ID = 0x6F6E736869  # "onshi"


class MigrationError(Exception):
    """A migration cannot be applied (or an applied one was changed)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(folder: Path = MIGRATIONS) -> list[Migration]:
    """The migration files in version order; a gap or a duplicate number is an error."""
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = NAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: not named NNN_description.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration numbers must run 1, 2, 3… without gaps: {versions}")
    return found


async def migrate(conn: asyncpg.Connection, folder: Path = MIGRATIONS) -> list[str]:
    """Apply what has not run yet; return the names applied (empty when up to date)."""
    wanted = discover(folder)
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version    integer PRIMARY KEY,
               name       text NOT NULL,
               checksum   text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    applied_now = []
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_ID)
    try:
        done = {
            r["version"]: r for r in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        }
        for m in wanted:
            if m.version in done:
                if done[m.version]["checksum"] != m.checksum:
                    raise MigrationError(
                        f"{m.name} was changed after it was applied (checksum differs); "
                        "add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
            applied_now.append(m.name)
        unknown = sorted(set(done) - {m.version for m in wanted})
        if unknown:
            raise MigrationError(f"the database has migrations this version does not know: {unknown}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)
    return applied_now
