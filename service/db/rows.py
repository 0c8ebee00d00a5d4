"""How each entity is stored: SQL that reads canonical snapshot rows or CSV-style text rows.

Rows travel three ways: validated `Tables` rows into the database (`to_record`),
database rows back into `Tables` rows for the snapshot (`CANONICAL_SELECT`, day
numbers computed by PostgreSQL), and database rows as CSV-style text for
validating an upsert against what is stored (`TEXT_SELECT`).  All of it follows from
each column's form in `core_ext.schema`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from core_ext import ROW_TYPES, UNHELD, row_maker, row_values, schema
from core_ext.schema import Column, Form

# The entities a snapshot holds (institutions are not in it), with their row types.
ENTITIES = tuple(e for e in schema.ENTITIES if e.table in ROW_TYPES)
BY_TABLE = {e.table: e for e in ENTITIES}
TABLES = schema.TABLES  # every table an upsert may name, in reference order
KEY_COLUMN = {e.table: e.key for e in schema.ENTITIES}
CSV_FILE = {e.table: e.file for e in schema.ENTITIES}
DB_COLUMNS = {e.table: e.stored for e in schema.ENTITIES}


def choice_code(column: Column) -> str:
    """SQL turning a choice column's name into its number (a CASE over its choices)."""
    assert column.choices is not None
    cases = " ".join(f"WHEN '{name}' THEN {code}" for name, code in column.choices.items())
    return f"CASE {column.name} {cases} END"


def _canonical(column: Column) -> str:
    """The SQL expression that reads a column as a `Tables` row holds it."""
    if column.form is Form.DAY:
        return f"({column.name} - date '0001-01-01' + 1)"  # date.toordinal()
    if column.form is Form.BRANCH:
        return f"coalesce({column.name}::int, -1)"
    if column.form is Form.CHOICE:
        return choice_code(column)
    return column.stored_as


def _text(column: Column) -> str:
    """The SQL expression that reads a column as a data set's cell."""
    if column.form is Form.FLAG:
        # NULL (an empty stored-only flag) stays NULL, an empty cell.
        return f"CASE WHEN {column.name} THEN '1' WHEN NOT {column.name} THEN '0' END AS {column.name}"
    return f"{column.stored_as}::text AS {column.stored_as}"


CANONICAL_SELECT = {
    e.table: f"SELECT {', '.join(_canonical(c) for c in e.columns)} FROM {e.table}" for e in schema.ENTITIES
}
TEXT_SELECT = {e.table: f"SELECT {', '.join(_text(c) for c in e.columns)} FROM {e.table}" for e in ENTITIES}


def _date(day: int | None) -> date | None:
    return None if day is None else date.fromordinal(day)


def _branch(branch: int) -> str | None:
    return None if branch < 0 else f"{branch:02d}"


def _to_stored(column: Column) -> Callable[[Any], Any] | None:
    """How a `Tables` row's value of this column is written to its database column (None:
    as it is).  An empty stored-only cell (None) is written as None by each of them."""
    if column.form is Form.DAY:
        return _date
    if column.form is Form.BRANCH:
        return _branch
    if column.form is Form.FLAG:
        return {False: False, True: True}.get
    if column.form is Form.CHOICE:
        names: Mapping[int, str] = {code: name for name, code in (column.choices or {}).items()}
        return names.get
    return None


def _record_maker(entity: schema.Entity) -> Callable[[Any], tuple[Any, ...]]:
    """`values -> record` for one table, compiled from its columns as namedtuple compiles
    its classes: one expression per column instead of a loop with a call per cell (which
    made `onshi import` a fifth slower)."""
    scope: dict[str, Any] = {}
    cells = []
    for i, column in enumerate(entity.columns):
        store = _to_stored(column)
        if store is None:
            cells.append(f"v[{i}]")
        else:
            scope[f"store{i}"] = store
            cells.append(f"store{i}(v[{i}])")
    return eval(f"lambda v: ({', '.join(cells)},)", scope)  # type: ignore[no-any-return]


_RECORD = {e.table: _record_maker(e) for e in ENTITIES}
# Make a `Tables` row from a CANONICAL_SELECT record.
ROW_MAKERS = {e.table: row_maker(e.table) for e in ENTITIES}


def to_record(table: str, row: Any) -> tuple[Any, ...]:
    """A validated `Tables` row as the tuple of its table's columns."""
    # A row is its held columns, then `extra`: its values in column order where there are any.
    return _RECORD[table](row_values(table, row) if UNHELD[table] else row)
