"""The compiled core (core_ext/_core.pyx): the same API and answers as core_ext._pycore.Core."""

from typing import Any

from ._build import SnapshotData

def key_hash(insurer_index: int, symbol: bytes, number: bytes) -> int:
    """FNV-1a hash of a normalised key without its branch (the twin of _text.key_hash)."""

class Core:
    """Decisions over one immutable snapshot, optionally with an overlay of changed persons.

    `overlay` answers for the keys (insurer index, symbol, number as UTF-8) in
    `dirty_keys` and the certificate serials (ASCII) in `dirty_serials`.
    """

    @property
    def data(self) -> SnapshotData: ...
    @property
    def overlay(self) -> Core | None: ...
    def __init__(
        self,
        data: SnapshotData,
        overlay: Core | None = None,
        dirty_keys: Any = None,
        dirty_serials: Any = None,
    ) -> None: ...
    @property
    def code_counts(self) -> list[int]:
        """Decisions made so far, by code number."""
    def carry_counts(self, previous: Core) -> None:
        """Continue the decision counts of the core this one replaces."""
    def confirm(
        self,
        body: bytes,
        institution: str,
        today: int,
        request_id: str,
        checked_at: str,
        snapshot: bytes,
        stale: bool = False,
        log: bytearray | None = None,
    ) -> tuple[int, bytes]:
        """Answer POST /v1/confirmations from the raw body: (HTTP status, answer JSON).

        `snapshot` is the answer's `snapshot` object, already JSON; `log`, when given,
        receives one access-log line per decision (core_ext._logline.access_line).
        """
    def confirm_batch(
        self,
        body: bytes,
        institution: str,
        today: int,
        request_id: str,
        checked_at: str,
        snapshot: bytes,
        stale: bool = False,
        log: bytearray | None = None,
    ) -> tuple[int, bytes]:
        """Answer POST /v1/confirmations/batch from the raw body: (HTTP status, answer JSON)."""

def _check_mirrors() -> None: ...
