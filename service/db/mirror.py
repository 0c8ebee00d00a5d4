"""The database's rows held in memory by key, so a change can be applied and rebuilt from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from core_ext._build import Tables
from service.dataset import DataSet
from service.db.rows import BY_TABLE, CANONICAL_SELECT, DB_COLUMNS, INTEGER_KEYS, key_of


@dataclass
class Mirror:
    """Every entity row by primary key, as of change `seq`."""

    seq: int = 0
    rows: dict[str, dict[Any, Any]] = field(default_factory=lambda: {t: {} for t in DB_COLUMNS})

    def dataset(self) -> DataSet:
        """The mirrored rows as a data set (already valid: they passed validation on the way in)."""
        tables = Tables(**{t: list(self.rows[t].values()) for t in BY_TABLE})
        institutions = {digest: code for code, _name, digest in self.rows["institutions"].values()}
        names = {code: name for code, name, _digest in self.rows["institutions"].values()}
        return DataSet(tables, institutions, names)

    def put(self, table: str, records: list[Any]) -> None:
        entity = BY_TABLE.get(table)
        target = self.rows[table]
        for record in records:
            row = tuple(record) if entity is None else entity.row(*record)
            target[key_of(table, row)] = row


async def load_mirror(conn: asyncpg.Connection) -> Mirror:
    """Every row and the change seq they reflect, read in one consistent snapshot."""
    mirror = Mirror()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        mirror.seq = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM change_log")
        for table, sql in CANONICAL_SELECT.items():
            mirror.put(table, await conn.fetch(sql))
    return mirror


async def apply_changes(conn: asyncpg.Connection, mirror: Mirror, limit: int = 50_000) -> bool | None:
    """Apply change_log entries after `mirror.seq`.

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
            key_column = BY_TABLE[table].key if table in BY_TABLE else "institution_code"
            typed: list[Any] = [int(k) for k in changed] if table in INTEGER_KEYS else list(changed)
            found = await conn.fetch(f"{CANONICAL_SELECT[table]} WHERE {key_column} = ANY($1)", typed)
            for key in typed:  # absent now: deleted
                mirror.rows[table].pop(key, None)
            mirror.put(table, found)
        mirror.seq = entries[-1]["seq"]
    return True
