"""A batch over a population large enough to probe its tables answers every item as alone.

The compiled core fetches each batch item's rows a few items ahead of its decision
(`Core._warm`); that must never change an answer.  Every certificate and every key of
the demo population, plus unknown ones, in a fixed shuffled order: the compiled batch
must equal the compiled single answers and the pure-Python batch.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

import core_ext
from service.dataset import validate
from service.demo import DEMO_INSTITUTION, demo_sources, number_path_request
from service.state import generation_of

pytestmark = pytest.mark.compiled
SEED = 20261202
DAY = 739_586  # today: 2025-12-01 as a day number (date.toordinal())
SNAPSHOT = b'{"version":"t"}'


def demo_items(members: int) -> tuple[Any, list[dict[str, Any]]]:
    sources = demo_sources(members)
    data = generation_of(*validate(sources).build()).core.data
    birth = {row["person_id"]: row["birthdate"] for _, row in sources["persons.csv"]}
    items: list[dict[str, Any]] = []
    for _, row in sources["certificates.csv"]:
        items.append(
            {"presented": "myna_card", "certificate_serial": row["certificate_serial"], "auth_method": "face"}
        )
    for _, q in sources["qualifications.csv"]:
        items.append(number_path_request(q, birth[q["person_id"]]))
    unknown = [
        {"presented": "myna_card", "certificate_serial": f"{n:032x}", "auth_method": "face"}
        for n in range(50)
    ] + [{**item, "number": item["number"] + "9"} for item in items[-50:]]
    items += unknown
    random.Random(SEED).shuffle(items)
    return data, items


def test_a_warmed_batch_answers_each_item_as_alone() -> None:
    data, items = demo_items(3_000)
    c = core_ext.IMPLEMENTATIONS["c"](data)
    py = core_ext.IMPLEMENTATIONS["py"](data)
    assert 3_000 < len(items) <= 10_000
    body = orjson.dumps(
        {"institution_code": DEMO_INSTITUTION, "confirmation_date": "2025-12-01", "items": items}
    )
    status, answer = c.confirm_batch(body, DEMO_INSTITUTION, DAY, "r", "t", SNAPSHOT)
    assert status == 200, f"seed {SEED}"
    results = orjson.loads(answer)["results"]
    assert len(results) == len(items)
    codes = set()
    for k, item in enumerate(items):
        single = {"institution_code": DEMO_INSTITUTION, "confirmation_date": "2025-12-01", **item}
        single_status, single_answer = c.confirm(
            orjson.dumps(single), DEMO_INSTITUTION, DAY, "r", "t", SNAPSHOT
        )
        expected = orjson.loads(single_answer)
        del expected["request_id"], expected["snapshot"]
        assert (single_status, results[k]) == (200, expected), f"item {k}, seed {SEED}"
        codes.add(expected["code"])
    assert {"VALID", "CERTIFICATE_UNKNOWN", "NOT_FOUND"} <= codes, codes
    assert py.confirm_batch(body, DEMO_INSTITUTION, DAY, "r", "t", SNAPSHOT) == (status, answer)
