"""The migrations create exactly the tables core_ext.schema declares: columns, order, types, nulls."""

from __future__ import annotations

from core_ext.schema import ENTITIES, SQL_TYPE
from tests.db.conftest import query


def test_every_entity_table_matches_the_schema(db: str) -> None:
    for entity in ENTITIES:
        rows = query(
            db,
            "SELECT column_name, data_type, is_nullable = 'YES' AS nullable FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            entity.table,
        )
        stored = [(r["column_name"], r["data_type"], r["nullable"]) for r in rows]
        declared = [(c.stored_as, SQL_TYPE[c.form], c.nullable) for c in entity.columns]
        assert stored == declared, entity.table


def test_a_primary_key_is_the_declared_key(db: str) -> None:
    for entity in ENTITIES:
        rows = query(
            db,
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = $1::regclass AND i.indisprimary",
            entity.table,
        )
        assert [r["attname"] for r in rows] == [entity.key], entity.table
