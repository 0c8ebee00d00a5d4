"""Fill a `Mirror` from PostgreSQL and keep it in step with change_log."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.db.rows import BY_TABLE, CANONICAL_SELECT, INTEGER_KEYS, KEY_COLUMN, key_of
from service.mirror import Mirror


def _put_all(mirror: Mirror, table: str, records: list[Any]) -> None:
    entity = BY_TABLE.get(table)
    for record in records:
        row = tuple(record) if entity is None else entity.row(*record)
        mirror.put(table, row, key_of(table, row))


async def load_mirror(conn: asyncpg.Connection) -> Mirror:
    """Every row and the change seq they reflect, read in one consistent snapshot."""
    mirror = Mirror()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        mirror.seq = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM change_log")
        for table, sql in CANONICAL_SELECT.items():
            entity = BY_TABLE.get(table)
            records = await conn.fetch(sql)
            make = tuple if entity is None else entity.row._make  # type: ignore[attr-defined]
            rows = list(map(make, records))
            mirror.load(table, rows, [key_of(table, row) for row in rows])
    mirror.rebuilt()  # the caller builds the base snapshot from exactly these rows
    return mirror


async def apply_changes(conn: asyncpg.Connection, mirror: Mirror, limit: int = 50_000) -> bool | None:
    """Apply change_log entries after `mirror.seq` (marking what they touch as dirty).

    Returns True when rows changed, False when there was nothing new, and None when
    an import happened (the caller reloads everything).
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        entries = await conn.fetch(
            "SELECT seq, table_name, op, row_key FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            mirror.seq,
            limit,
        )
        if not entries:
            return False
        if any(e["op"] == "import" for e in entries):
            return None
        keys: dict[str, set[str]] = {}
        for e in entries:
            keys.setdefault(e["table_name"], set()).add(e["row_key"])
        for table, changed in keys.items():
            key_column = KEY_COLUMN[table]
            typed: list[Any] = [int(k) for k in changed] if table in INTEGER_KEYS else list(changed)
            found = await conn.fetch(f"{CANONICAL_SELECT[table]} WHERE {key_column} = ANY($1)", typed)
            for key in typed:  # absent now: deleted
                mirror.remove(table, key)
            _put_all(mirror, table, found)
        mirror.seq = entries[-1]["seq"]
    return True
