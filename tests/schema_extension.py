"""Run Onshi with extra columns declared in `core_ext.schema`, as a later version would declare them.

`declare(columns)` must run in a fresh interpreter before anything imports `core_ext`:
an import hook appends the columns to their tables as `core_ext.schema` is executed, so
every module that derives from the schema sees them exactly as if the file said so.
That is how tests/db/test_unheld_column.py shows that a stored-only column needs
nothing but its declaration and a migration.
"""

from __future__ import annotations

import dataclasses
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

SCHEMA_MODULE = "core_ext.schema"


def _extend(schema: Any, columns: dict[str, tuple[Any, ...]]) -> None:
    entities = tuple(
        dataclasses.replace(e, columns=e.columns + columns.get(e.table, ())) for e in schema.ENTITIES
    )
    schema.ENTITIES = entities
    schema.BY_TABLE.clear()
    schema.BY_TABLE.update({e.table: e for e in entities})
    schema._check()


class _Declare(importlib.abc.MetaPathFinder):
    def __init__(self, columns: Sequence[tuple[str, str, str]]) -> None:
        self.columns = columns  # (table, column, form name)

    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != SCHEMA_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        assert spec is not None and spec.loader is not None
        original = spec.loader.exec_module
        wanted = self.columns

        def exec_module(module: ModuleType) -> None:
            original(module)
            extra: dict[str, tuple[Any, ...]] = {}
            for table, column, form in wanted:
                declared = module.Column(column, module.Form[form], optional=True)
                extra[table] = extra.get(table, ()) + (declared,)
            _extend(module, extra)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def declare(columns: Sequence[tuple[str, str, str]]) -> None:
    """Append `(table, column, Form member name)` columns, optional, to the schema."""
    if any(m == "core_ext" or m.startswith("core_ext.") for m in sys.modules):
        raise RuntimeError("declare() must run before core_ext is imported")
    sys.meta_path.insert(0, _Declare(columns))
