"""The snapshot containers print counts, not rows.

Python 3.11's asyncio.run formats its finished main task, result included, when it
puts back the SIGINT handler it installed (whenever SIGINT is not ignored: any command
but one a non-interactive shell started with &).  With the dataclass repr, `onshi
snapshot build --database-url` spent minutes and gigabytes printing its arrays at 10 M
members.
"""

from __future__ import annotations

import asyncio
import builtins
import reprlib
import signal

import pytest

import core_ext
from core_ext._build import SnapshotData, Tables
from service.dataset import validate
from service.demo import demo_sources

Built = dict[int, tuple[Tables, SnapshotData]]


@pytest.fixture(scope="module")
def populations() -> Built:
    built: Built = {}
    for members in (100, 3_000):
        tables = validate(demo_sources(members)).tables
        built[members] = (tables, core_ext.snapshot(tables))
    return built


def test_repr_names_the_counts_and_does_not_grow(populations: Built) -> None:
    (small_tables, small), (tables, data) = populations[100], populations[3_000]
    assert repr(data).startswith("SnapshotData(")
    assert f"persons={data.persons}," in repr(data)
    assert f"qualifications={data.qualifications}," in repr(data)
    assert f"persons={len(tables.persons)}," in repr(tables)
    for short, long in ((repr(small), repr(data)), (repr(small_tables), repr(tables))):
        assert len(long) < 200
        assert len(long) - len(short) < 30  # a few more digits, not more rows


def test_asyncio_run_returning_a_snapshot_formats_it_cheaply(
    populations: Built,
) -> None:
    """The path that hit the CLI: the SIGINT handler in place, a snapshot as the result."""
    _tables, data = populations[3_000]
    lengths: list[int] = []  # of the whole repr reprlib asks for before it cuts it short
    original = reprlib.Repr.repr_instance

    def spy(self: reprlib.Repr, x: object, level: int) -> str:
        if isinstance(x, SnapshotData):
            lengths.append(len(builtins.repr(x)))
        return original(self, x, level)

    async def work() -> tuple[SnapshotData, dict[str, str]]:
        return data, {}

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    reprlib.Repr.repr_instance = spy  # type: ignore[method-assign]
    try:
        result, _ = asyncio.run(work())
    finally:
        reprlib.Repr.repr_instance = original  # type: ignore[method-assign]
        signal.signal(signal.SIGINT, previous)
    assert result is data
    assert lengths, "asyncio.run no longer formats its result: this test no longer shows the path"
    assert max(lengths) < 200
