"""The data-set checks and the CSV layout follow core_ext.schema (the one list of each table's columns)."""

from __future__ import annotations

from typing import Any

import pytest

from core_ext import HELD, ROW_TYPES, UNHELD
from core_ext.schema import BY_TABLE, ENTITIES
from service.dataset import COLUMNS, OPTIONAL, DataSetError, validate


class RecordingRow(dict[str, Any]):
    """A data-set row that remembers which columns were read."""

    def __init__(self, cells: dict[str, Any]) -> None:
        super().__init__(cells)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.table)
def test_the_python_checks_read_every_declared_column_and_no_other(entity: Any) -> None:
    row = RecordingRow({name: "" for name in entity.names})
    with pytest.raises(DataSetError) as failed:
        validate({entity.file: [(2, row)]}, compiled=False)
    assert row.read == set(entity.names)
    required = [c.name for c in entity.columns if not c.optional]
    assert [p.split(": ")[1] for p in failed.value.problems if p.endswith("required")] == required


def test_csv_columns_optional_cells_and_row_types_derive_from_the_schema() -> None:
    assert {e.file: e.names for e in ENTITIES} == COLUMNS
    assert {c.name for e in ENTITIES for c in e.columns if c.optional} == OPTIONAL
    for table, row in ROW_TYPES.items():  # a prefix of the columns, then the rest as `extra`
        assert row._fields == (*HELD[table], "extra")
        assert (*HELD[table], *(c.name for c in UNHELD[table])) == BY_TABLE[table].names
