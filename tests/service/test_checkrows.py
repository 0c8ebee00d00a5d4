"""The compiled row checks accept exactly what the Python checks accept, with the same rows.

The public example data set is mutated at random - cells replaced by tricky values
(leading zeros, full-width digits, impossible dates, unknown codes, empty and
missing cells), rows duplicated - and validated both ways: the same data set, or
the same problem list, must come out.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.dataset import COLUMNS, FILES, DataSet, DataSetError, read_csv_cells, validate
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.compiled  # the compiled row checks against the Python ones

BASE = {name: list(read_csv_cells(EXAMPLES / "data" / name, COLUMNS[name])) for name in FILES}
TRICKY = [
    None,
    "",
    "0",
    "007",
    "1",
    "2",
    "3",
    "12",
    "-1",
    "1_000",
    "9223372036854775807",
    "9223372036854775808",
    "１２",
    "٣",
    "2024-02-29",
    "2023-02-29",
    "2024-2-01",
    "２０２４-01-01",
    "0000-01-01",
    "2025-12-01",
    "legacy_card",
    "eligibility_certificate",
    "info_notice",
    "general",
    "high",
    "A01",
    "Z99",
    "00",
    "0０",
    "１",
    "ab12CD",
    "ABCDEFG",
    "７－１０",
    "北浜",
    " 12",
    "1 2",
    "\t",
    "x" * 40,
]


def both(sources: dict[str, list[Any]]) -> tuple[Any, Any]:
    outcomes = []
    for compiled in (False, True):
        try:
            data: DataSet | list[str] = validate(sources, compiled=compiled)
        except DataSetError as exc:
            data = exc.problems
        outcomes.append(data)
    return outcomes[0], outcomes[1]


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, list[Any]]:
    sources = {name: list(rows) for name, rows in BASE.items()}
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(FILES[1:6]))  # the files with compiled checks
        rows = sources[name]
        k = draw(st.integers(0, len(rows) - 1))
        line, cells = rows[k]
        if draw(st.integers(0, 4)) == 0:
            rows.append((line + 1000, cells))  # a duplicate row
            continue
        column = draw(st.integers(0, len(cells) - 1))
        value = draw(st.sampled_from(TRICKY) | st.sampled_from([c for _, r in rows for c in r]))
        rows[k] = (line, cells[:column] + (value,) + cells[column + 1 :])
    return sources


def test_the_examples_validate_the_same_both_ways() -> None:
    python, compiled = both(BASE)
    assert isinstance(python, DataSet) and python == compiled


@settings(max_examples=400)
@given(mutated())
def test_mutated_data_sets_validate_the_same_both_ways(sources: dict[str, list[Any]]) -> None:
    python, compiled = both(sources)
    assert python == compiled


def test_dict_rows_take_the_same_path() -> None:
    """Demo and upsert sources give dicts; they are checked the same way as CSV cells."""
    as_dicts = {
        name: [(line, dict(zip(COLUMNS[name], cells, strict=True))) for line, cells in rows]
        for name, rows in BASE.items()
    }
    python, compiled = both(as_dicts)
    assert isinstance(compiled, DataSet) and python == compiled == both(BASE)[0]
