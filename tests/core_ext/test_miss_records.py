"""A number-path miss leaves a trace the member can see (core_ext._logline), on both cores."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from core_ext import MISS_PERSONS
from tests.population import INSTITUTION, Population, by_number, card, day

ON = "2025-04-01"


@pytest.fixture
def household(impl: str) -> Any:
    """One key with three persons: parent (branch 00) and twins (01, 02); a certificate."""
    w = Population()
    w.person(7, "1980-08-08")
    w.qual(71, 7, "2005-04-01", symbol="7-20", number="55")
    for pid, branch in ((5, "01"), (6, "02")):
        w.person(pid, "2015-07-07", sex=2)
        w.qual(pid * 10 + 1, pid, "2015-07-07", symbol="7-20", number="55", branch=branch, relationship=2)
    w.cert("AB01", 7, "2020-01-01", "2030-01-01")
    return w.cores()[impl]


def records(core: Any, request: dict[str, Any], batch: bool = False) -> list[list[str]]:
    """The access-log lines one request writes, split into fields."""
    log = bytearray()
    if batch:
        body = orjson.dumps({"institution_code": INSTITUTION, "items": [request, request]})
        status, _ = core.confirm_batch(body, INSTITUTION, day(ON), "r", "t", b"{}", False, log)
    else:
        body = orjson.dumps({"institution_code": INSTITUTION, **request})
        status, _ = core.confirm(body, INSTITUTION, day(ON), "r", "t", b"{}", False, log)
    assert status == 200
    return [line.split(",") for line in log.decode().splitlines()]


def test_a_wrong_birthdate_is_recorded_against_every_person_under_the_key(household: Any) -> None:
    lines = records(household, by_number(ON, "55", "1999-09-09", symbol="7-20"))
    assert [(f[3], f[5], f[6]) for f in lines] == [
        ("NOT_FOUND", "7", ""),
        ("NOT_FOUND", "5", ""),
        ("NOT_FOUND", "6", ""),
    ]


def test_a_branch_narrows_the_persons_a_mismatch_is_recorded_against(household: Any) -> None:
    lines = records(household, by_number(ON, "55", "1999-09-09", symbol="7-20", branch="02"))
    assert [(f[3], f[5]) for f in lines] == [("NOT_FOUND", "6")]


@pytest.mark.parametrize(
    "request_",
    [
        by_number(ON, "56", "1980-08-08", symbol="7-20"),  # no such key
        by_number(ON, "55", "1980-08-08", symbol="7-20", branch="09"),  # no such branch
    ],
)
def test_a_miss_without_a_key_names_nobody(household: Any, request_: dict[str, Any]) -> None:
    assert [(f[3], f[5], f[6]) for f in records(household, request_)] == [("NOT_FOUND", "", "")]


def test_a_hit_and_a_card_are_recorded_once(household: Any) -> None:
    hit = records(household, by_number(ON, "55", "1980-08-08", symbol="7-20"))
    assert [(f[3], f[5], f[6]) for f in hit] == [("VALID", "7", "71")]
    unknown_card = records(household, card("FFFF", ON))
    assert [(f[3], f[5]) for f in unknown_card] == [("CERTIFICATE_UNKNOWN", "")]


def test_batch_items_record_their_misses_one_by_one(household: Any) -> None:
    lines = records(household, by_number(ON, "55", "1999-09-09", symbol="7-20", branch="01"), batch=True)
    assert [(f[3], f[5]) for f in lines] == [("NOT_FOUND", "5"), ("NOT_FOUND", "5")]


def test_a_mismatch_names_at_most_miss_persons(impl: str) -> None:
    w = Population()
    for pid in range(1, MISS_PERSONS + 6):
        w.person(pid, "2000-01-01")
        w.qual(pid * 10, pid, "2010-04-01", symbol="1", number="1", branch=f"{pid:02d}")
    lines = records(w.cores()[impl], by_number(ON, "1", "1999-09-09", symbol="1"))
    assert [int(f[5]) for f in lines] == list(range(1, MISS_PERSONS + 1))
