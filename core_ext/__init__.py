"""The eligibility core: snapshot arrays and `Core.confirm`, compiled or pure Python.

`Core` is the Cython implementation when it is built and `ONSHI_NO_EXTENSIONS` is
not set, else the pure-Python twin; both give the same answers.

This module is the core's public surface: `service/` imports from here only, never a
`core_ext._…` module (tests and benchmarks may reach inside).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

from . import _pycore, schema
from ._answers import MAX_BATCH_ITEMS, error_body
from ._build import (
    BIG_ID,
    HELD,
    ROW_TYPES,
    UNHELD,
    CertificateRow,
    DocumentRow,
    InsurerRow,
    PersonRow,
    QualificationRow,
    RegistrationRow,
    SnapshotData,
    Tables,
    build_snapshot,
    id_at,
    row_maker,
    row_values,
    text_at,
)
from ._codes import (
    AUTH_METHODS,
    CODE_NAMES,
    DOCUMENT_KINDS,
    ELIGIBILITY_CERTIFICATE,
    INCOME_CLASSES,
    INFO_NOTICE,
    LEGACY_CARD,
    LIMIT_CATEGORIES,
    MYNA_CARD,
    OUTCOMES,
    PRESENTED,
)
from ._file import OpenedSnapshot, SnapshotFileError, open_snapshot, write_snapshot
from ._logline import COLUMNS as ACCESS_COLUMNS
from ._logline import MISS_PERSONS, REQUEST_ID_PATTERN, access_line, checked_access_line, parse_access_line
from ._text import (
    NO_END,
    NUMBER_MAX,
    SERIAL_MAX,
    SYMBOL_MAX,
    insurer_check_digit,
    is_institution_code,
    normalise_branch,
    normalise_insurer_number,
    normalise_number,
    normalise_serial,
    normalise_symbol,
    parse_day,
)
from ._text import key_hash as py_key_hash

NO_EXTENSIONS = bool(os.environ.get("ONSHI_NO_EXTENSIONS"))

_compiled: ModuleType | None
try:
    from . import _core as _compiled
except ImportError:  # not built: fall back to the twin
    _compiled = None

# The compiled helpers beside the core, None where the extension is not built: the row
# checks of an import (service.dataset), the COPY stream builder (service.db.snapshot).
checkrows: Any
StreamBuilder: Any
try:
    from . import _checkrows as checkrows  # type: ignore[attr-defined, no-redef, unused-ignore]
    from ._stream import StreamBuilder  # type: ignore[import-not-found, no-redef, unused-ignore]
except ImportError:
    checkrows = StreamBuilder = None

IMPLEMENTATIONS: dict[str, Any] = {"py": _pycore.Core}
key_hash: Callable[[int, bytes, bytes], int] = py_key_hash
if _compiled is not None:
    IMPLEMENTATIONS["c"] = _compiled.Core
    key_hash = _compiled.key_hash
COMPILED = "c" in IMPLEMENTATIONS and not NO_EXTENSIONS
Core: Any = IMPLEMENTATIONS["c"] if COMPILED else _pycore.Core


def snapshot(tables: Tables) -> SnapshotData:
    """Build a snapshot, hashing keys with the fastest available implementation."""
    return build_snapshot(tables, key_hash)


__all__ = [
    "REQUEST_ID_PATTERN",
    "checked_access_line",
    "SYMBOL_MAX",
    "SERIAL_MAX",
    "NUMBER_MAX",
    "PRESENTED",
    "MYNA_CARD",
    "INFO_NOTICE",
    "AUTH_METHODS",
    "MAX_BATCH_ITEMS",
    "ACCESS_COLUMNS",
    "BIG_ID",
    "CODE_NAMES",
    "OUTCOMES",
    "COMPILED",
    "DOCUMENT_KINDS",
    "ELIGIBILITY_CERTIFICATE",
    "HELD",
    "IMPLEMENTATIONS",
    "INCOME_CLASSES",
    "LEGACY_CARD",
    "LIMIT_CATEGORIES",
    "NO_END",
    "OpenedSnapshot",
    "ROW_TYPES",
    "UNHELD",
    "CertificateRow",
    "Core",
    "DocumentRow",
    "InsurerRow",
    "PersonRow",
    "QualificationRow",
    "RegistrationRow",
    "SnapshotData",
    "SnapshotFileError",
    "StreamBuilder",
    "Tables",
    "checkrows",
    "MISS_PERSONS",
    "access_line",
    "error_body",
    "id_at",
    "insurer_check_digit",
    "is_institution_code",
    "normalise_branch",
    "normalise_insurer_number",
    "normalise_number",
    "normalise_serial",
    "normalise_symbol",
    "open_snapshot",
    "parse_access_line",
    "parse_day",
    "row_maker",
    "row_values",
    "schema",
    "snapshot",
    "text_at",
    "write_snapshot",
]
