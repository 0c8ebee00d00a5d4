"""`onshi import`: a validated data set into PostgreSQL with COPY, all or nothing."""

from __future__ import annotations

import asyncpg

from service.dataset import DataSet
from service.db.rows import BY_TABLE, DB_COLUMNS, to_record

ENTITY_TABLES = ", ".join(DB_COLUMNS)


async def import_dataset(conn: asyncpg.Connection, data: DataSet) -> int:
    """Replace every entity table's rows with the data set; return the import's change seq.

    A data set is complete by definition (its references resolve within it), so an
    import replaces what is stored rather than merging.  Triggers skip the rows; one
    change_log entry announces the import and followers reload.
    """
    async with conn.transaction():
        await conn.execute("SET LOCAL onshi.bulk_import = 'on'")
        try:  # the data set is validated: skip per-row foreign-key checks (2-3x faster COPY)
            async with conn.transaction():
                await conn.execute("SET LOCAL session_replication_role = replica")
        except asyncpg.InsufficientPrivilegeError:
            pass  # not a superuser: the checks run, the import is only slower
        await conn.execute("LOCK TABLE change_log IN SHARE ROW EXCLUSIVE MODE")
        await conn.execute(f"TRUNCATE {ENTITY_TABLES}")
        for table in BY_TABLE:
            rows = getattr(data.tables, table)
            await conn.copy_records_to_table(
                table, records=(to_record(table, r) for r in rows), columns=DB_COLUMNS[table]
            )
        await conn.copy_records_to_table(
            "institutions",
            records=[
                (code, data.institution_names[code], digest) for digest, code in data.institutions.items()
            ],
            columns=DB_COLUMNS["institutions"],
        )
        seq: int = await conn.fetchval(
            "INSERT INTO change_log (table_name, op) VALUES ('*', 'import') RETURNING seq"
        )
        await conn.execute("SELECT pg_notify('onshi_changes', 'import')")
    return seq
