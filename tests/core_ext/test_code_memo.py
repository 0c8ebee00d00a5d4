"""The compiled core's memo of normalised symbols and numbers holds only short inputs
(issue #20): a 64 KiB symbol is answered like any invalid one and leaves nothing behind."""

from __future__ import annotations

import orjson
import pytest

import core_ext
from tests.population import INSTITUTION, Population, by_number, day

pytestmark = pytest.mark.compiled


def test_long_symbols_are_not_memoised() -> None:
    from core_ext import _probe

    w = Population()
    w.person(1, "1980-01-01")
    w.qual(11, 1, "2010-04-01", symbol="建", number="1")
    core = w.cores()["c"]

    def ask(symbol: str) -> int:
        body = orjson.dumps(
            {"institution_code": INSTITUTION, **by_number("2025-04-01", "1", "1980-01-01", symbol=symbol)}
        )
        status, _ = core.confirm(body, INSTITUTION, day("2025-04-01"), "r", "t", b"{}")
        return int(status)

    assert ask("建") == 200 and _probe.memo_sizes(core) == (1, 0)
    for n in range(50):
        assert ask("建" * (20_000 + n)) == 422  # 60 KiB of UTF-8 each, over the length limit
    assert ask(" " * 200 + "建") == 200  # long but valid: answered by the shared validator
    assert _probe.memo_sizes(core) == (1, 0)
    assert core_ext.COMPILED


def test_an_answer_buffer_left_without_memory_grows_again() -> None:
    """What a failed allocation leaves (no memory, no capacity) is consistent: the next
    answer grows the buffer instead of writing through a null pointer (issue #20, item 8)."""
    from core_ext import _probe

    w = Population()
    w.person(1, "1980-01-01")
    w.qual(11, 1, "2010-04-01", symbol="1", number="1")
    core = w.cores()["c"]
    body = orjson.dumps(
        {"institution_code": INSTITUTION, **by_number("2025-04-01", "1", "1980-01-01", symbol="1")}
    )
    expected = core.confirm(body, INSTITUTION, day("2025-04-01"), "r", "t", b"{}")
    _probe.drop_answer_buffer(core)
    assert core.confirm(body, INSTITUTION, day("2025-04-01"), "r", "t", b"{}") == expected
