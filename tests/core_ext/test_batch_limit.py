"""A batch holds at most MAX_BATCH_ITEMS items, on every path of both cores: 10,000 are
answered, 10,001 are refused with 413 (the compiled core's plain fast path used to let
10,001 through)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from core_ext._answers import MAX_BATCH_ITEMS
from tests.population import INSTITUTION, TODAY, Population, by_number


@pytest.fixture(scope="module")
def cores() -> dict[str, Any]:
    w = Population()
    w.person(1, "1980-01-01")
    w.qual(11, 1, "2020-04-01", number="12")
    return w.cores()


# A plain item (ASCII, every field valid) takes the compiled core's fast path; an item that
# the scanner leaves to the decoder (a JSON null, "omitted") takes the decoded path.
PLAIN = by_number("2025-04-01", "12", "1980-01-01")
DECODED = by_number("2025-04-01", "12", "1980-01-01", branch=None)


@pytest.mark.parametrize("item", [PLAIN, DECODED], ids=["plain", "decoded"])
@pytest.mark.parametrize(("count", "status"), [(MAX_BATCH_ITEMS, 200), (MAX_BATCH_ITEMS + 1, 413)])
def test_batch_item_limit(
    cores: dict[str, Any], impl: str, item: dict[str, Any], count: int, status: int
) -> None:
    body = orjson.dumps({"institution_code": INSTITUTION, "items": [item] * count})
    got, answer = cores[impl].confirm_batch(body, INSTITUTION, TODAY, "rid", "checked", b'{"v":1}')
    assert got == status
    decoded = orjson.loads(answer)
    if status == 200:
        assert len(decoded["results"]) == count
        assert {r["code"] for r in decoded["results"]} == {"VALID"}
    else:
        assert decoded["error"]["code"] == "PAYLOAD_TOO_LARGE"
