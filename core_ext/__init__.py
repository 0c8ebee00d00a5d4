"""The eligibility core: snapshot arrays and `Core.confirm`, compiled or pure Python.

`Core` is the Cython implementation when it is built and `ONSHI_NO_EXTENSIONS` is
not set, else the pure-Python twin; both give the same answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

from . import _pycore
from ._build import SnapshotData, Tables, build_snapshot
from ._text import key_hash as py_key_hash

NO_EXTENSIONS = bool(os.environ.get("ONSHI_NO_EXTENSIONS"))

_compiled: ModuleType | None
try:
    from . import _core as _compiled
except ImportError:  # not built: fall back to the twin
    _compiled = None

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


__all__ = ["COMPILED", "IMPLEMENTATIONS", "Core", "SnapshotData", "Tables", "snapshot"]
