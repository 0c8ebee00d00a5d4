"""`onshi import`: a validated data set into PostgreSQL with COPY, all or nothing.

A data set is complete by definition (its references resolve within it), so an
import replaces what is stored rather than merging.  Triggers skip the rows; one
change_log entry announces the import and followers reload.

Rows go to PostgreSQL with asyncpg's binary COPY (`copy_records_to_table`), with the
secondary indexes dropped and rebuilt once at the end, all in one transaction: nothing
is ever half-imported. (A compiled COPY encoder measured no faster on a whole import
and was removed: docs/performance.md.)
"""

from __future__ import annotations

from typing import Any

import asyncpg

from service.dataset import DataSet
from service.db.rows import BY_TABLE, DB_COLUMNS, to_record

ENTITY_TABLES = ", ".join(DB_COLUMNS)


async def import_dataset(conn: asyncpg.Connection, data: DataSet) -> int:
    """Replace every entity table's rows with a validated data set; return the import's change seq."""
    async with conn.transaction():
        indexes = await _empty_tables(conn)
        for table in BY_TABLE:
            await _copy(conn, table, getattr(data.tables, table))
        return await _finish(conn, data, indexes)


async def _empty_tables(conn: asyncpg.Connection) -> list[str]:
    """Empty the entity tables and drop their secondary indexes; the statements that recreate them.

    Building an index once after COPY is several times cheaper than updating it row
    by row (the (insurer, symbol, number) index doubled the qualifications COPY).
    Primary keys stay: foreign keys depend on them.
    """
    await conn.execute("SET LOCAL onshi.bulk_import = 'on'")
    try:  # the data set is validated: skip per-row foreign-key checks (2-3x faster COPY)
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
    except asyncpg.InsufficientPrivilegeError:
        pass  # not a superuser: the checks run, the import is only slower
    await conn.execute("LOCK TABLE change_log IN SHARE ROW EXCLUSIVE MODE")
    await conn.execute(f"TRUNCATE {ENTITY_TABLES}")
    secondary = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition"
        " FROM pg_index i WHERE i.indrelid = ANY($1::regclass[]) AND NOT i.indisunique",
        list(DB_COLUMNS),
    )
    for index in secondary:
        await conn.execute(f"DROP INDEX {index['name']}")
    return [index["definition"] for index in secondary]


async def _copy(conn: asyncpg.Connection, table: str, rows: list[Any]) -> None:
    await conn.copy_records_to_table(
        table, records=(to_record(table, r) for r in rows), columns=DB_COLUMNS[table]
    )


async def _finish(conn: asyncpg.Connection, data: DataSet, indexes: list[str]) -> int:
    """Copy the institutions, rebuild the dropped indexes and announce the import; its change seq."""
    for definition in indexes:
        await conn.execute(definition)
    await conn.copy_records_to_table(
        "institutions",
        records=[
            (
                code,
                data.institution_names[code],
                digest,
                data.previous_keys.get(code),
                data.rate_limits.get(code),
            )
            for digest, code in data.institutions.items()
            if data.previous_keys.get(code) != digest  # one row per institution
        ],
        columns=DB_COLUMNS["institutions"],
    )
    seq: int = await conn.fetchval(
        "INSERT INTO change_log (table_name, op) VALUES ('*', 'import') RETURNING seq"
    )
    await conn.execute("SELECT pg_notify('onshi_changes', 'import')")
    return seq
