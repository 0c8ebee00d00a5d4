"""The snapshot builder from PostgreSQL's binary COPY streams (core_ext/_stream.pyx)."""

from collections.abc import Sequence

from ._build import InsurerRow, SnapshotData

class StreamBuilder:
    """Builds a snapshot from each table's binary COPY stream, fed in STAGES order."""

    def __init__(self, insurers: Sequence[InsurerRow]) -> None:
        """`insurers`: InsurerRow list in the order that defines insurer indexes."""
    def feed(self, table: str, chunk: bytes | bytearray | memoryview) -> None:
        """Parse one chunk of `table`'s binary COPY stream (tables in STAGES order)."""
    def end(self, table: str) -> None:
        """Declare `table`'s stream complete and index it."""
    def finish(self) -> SnapshotData:
        """The snapshot of everything fed (tables not fed are empty); once per builder."""
