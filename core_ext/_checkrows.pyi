"""The common rows of a data set, checked at C speed (core_ext/_checkrows.pyx).

Each function walks one table's `(line, row)` source, appends the rows it accepts to `out`
and hands every other row to `slow(line, row)`, the Python checks.
"""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

_Source = Iterable[tuple[int, tuple[str | None, ...]]]
_Slow = Callable[[int, tuple[str | None, ...]], None]

def persons(
    source: _Source, slow: _Slow, columns: tuple[str, ...], person_line: dict[Any, int], out: list[Any]
) -> None: ...
def qualifications(
    source: _Source,
    slow: _Slow,
    columns: tuple[str, ...],
    qual_line: dict[Any, int],
    person_line: dict[Any, int],
    insurer_line: dict[Any, int],
    normalise_symbol: Callable[[str], tuple[str | None, str | None]],
    normalise_number: Callable[[str], tuple[str | None, str | None]],
    symbols: dict[str, str],
    numbers: dict[str, str],
    out: list[Any],
) -> None: ...
def documents(
    source: _Source,
    slow: _Slow,
    columns: tuple[str, ...],
    doc_line: dict[Any, int],
    qual_line: dict[Any, int],
    out: list[Any],
) -> None: ...
def certificates(
    source: _Source,
    slow: _Slow,
    columns: tuple[str, ...],
    serial_line: dict[Any, int],
    person_line: dict[Any, int],
    out: list[Any],
) -> None: ...
def registrations(
    source: _Source,
    slow: _Slow,
    columns: tuple[str, ...],
    registered_line: dict[Any, int],
    person_line: dict[Any, int],
    out: list[Any],
) -> None: ...
def csv_cells(
    reader: Any, where: tuple[int, ...], width: int
) -> Iterator[tuple[int, tuple[str | None, ...]]]:
    """(line, cells in column order) from a csv.reader."""
