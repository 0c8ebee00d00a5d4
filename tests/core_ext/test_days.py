"""The compiled core's calendar arithmetic against Python's datetime, day by day."""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.compiled


def test_every_day_from_1800_to_2300_is_written_as_python_writes_it() -> None:
    from core_ext._probe import day_parts, day_text

    first, last = date(1800, 1, 1).toordinal(), date(2300, 12, 31).toordinal()
    for day in range(first, last + 1):
        expected = date.fromordinal(day)
        assert day_parts(day) == (expected.year, expected.month, expected.day), expected
        assert day_text(day) == expected.isoformat(), expected


@pytest.mark.parametrize("when", [date(1, 1, 1), date(1, 3, 1), date(999, 12, 31), date(9999, 12, 31)])
def test_the_calendar_edges_are_right_too(when: date) -> None:
    from core_ext._probe import day_text

    assert day_text(when.toordinal()) == when.isoformat()
