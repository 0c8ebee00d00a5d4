"""Rate limits per institution: the shared table (two limiters on one file stand for two
workers) and a real two-worker server."""

from __future__ import annotations

import multiprocessing
import struct
from pathlib import Path

import pytest

from core_ext import open_snapshot, write_snapshot
from service.dataset import DataSetError, load_dir
from service.ratelimit import FILE_NAME, SLOT, RateLimiter
from service.state import generation_of
from tests.conftest import EXAMPLES
from tests.processes import CARD_1, assert_one_key_limited, copy_examples, http, serve, with_rate_limit

NOW = 1_800_000_000.0


def test_a_burst_then_one_per_interval(tmp_path: Path) -> None:
    limiter = RateLimiter(tmp_path, rate=10)
    assert [limiter.admit("2710000019", NOW) for _ in range(10)] == [0] * 10
    assert limiter.admit("2710000019", NOW) == 1  # the 11th within the second waits
    assert limiter.admit("2710000019", NOW + 0.05) == 1
    assert limiter.admit("2710000019", NOW + 0.1) == 0  # one interval later: one more
    assert limiter.admit("2710000019", NOW + 0.1) == 1


def test_retry_after_is_whole_seconds_until_admitted(tmp_path: Path) -> None:
    limiter = RateLimiter(tmp_path, rate=0.25, burst=1)  # one request every 4 s
    assert limiter.admit("2710000019", NOW) == 0
    assert limiter.admit("2710000019", NOW) == 4
    assert limiter.admit("2710000019", NOW + 2.5) == 2
    assert limiter.admit("2710000019", NOW + 4) == 0


def test_institutions_do_not_share_a_budget(tmp_path: Path) -> None:
    limiter = RateLimiter(tmp_path, rate=2)
    assert [limiter.admit("2710000019", NOW) for _ in range(3)] == [0, 0, 1]
    assert [limiter.admit("2740000029", NOW) for _ in range(2)] == [0, 0]


def test_two_limiters_on_one_file_share_the_count(tmp_path: Path) -> None:
    first, second = RateLimiter(tmp_path, rate=4), RateLimiter(tmp_path, rate=4)
    admitted = [limiter.admit("2710000019", NOW) == 0 for limiter in (first, second) * 4]
    assert admitted.count(True) == 4


def _admit_many(state_dir: str, count: int) -> int:
    limiter = RateLimiter(Path(state_dir), rate=100)
    return sum(limiter.admit("2710000019", NOW) == 0 for _ in range(count))


def test_processes_racing_admit_exactly_the_burst(tmp_path: Path) -> None:
    RateLimiter(tmp_path, rate=100).close()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        admitted = pool.starmap(_admit_many, [(str(tmp_path), 500)] * 2)
    assert sum(admitted) == 100, admitted


def test_items_are_charged_after_and_checked_before(tmp_path: Path) -> None:
    limiter = RateLimiter(tmp_path, rate=None, items_per_minute=600)  # a minute's worth: 600
    assert limiter.admit("2710000019", NOW) == 0
    limiter.charge_items("2710000019", 1000, NOW)  # one batch may overdraw: 100 s owed
    assert limiter.admit("2710000019", NOW) == 40  # until only a minute's worth is owed
    assert limiter.admit("2710000019", NOW + 40) == 0
    assert limiter.admit("2740000029", NOW) == 0


def test_a_clock_from_an_earlier_run_counts_for_nothing(tmp_path: Path) -> None:
    limiter = RateLimiter(tmp_path, rate=1, burst=1)
    assert limiter.admit("2710000019", NOW - 3600) == 0
    assert limiter.admit("2710000019", NOW - 3600) == 1
    assert RateLimiter(tmp_path, rate=1, burst=1).admit("2710000019", NOW) == 0


def test_colliding_and_long_codes_get_slots_of_their_own(tmp_path: Path) -> None:
    limiter = RateLimiter(tmp_path, rate=1, burst=1)
    codes = [f"{i:010d}" for i in range(2000)] + ["9" * 40, "9" * 41]
    assert all(limiter.admit(code, NOW) == 0 for code in codes)
    assert all(limiter.admit(code, NOW) == 1 for code in codes)
    used = (tmp_path / FILE_NAME).read_bytes()
    slots = [used[i : i + 16] for i in range(0, len(used), SLOT.size)]
    assert sum(slot != bytes(16) for slot in slots) == len(codes)
    assert struct.calcsize("<16sdd") == SLOT.size


@pytest.mark.slow
def test_one_key_hammering_two_workers_is_limited_and_another_is_not(tmp_path: Path) -> None:
    served = serve(tmp_path, ["--data", str(EXAMPLES / "data")], 2, ONSHI_RATE_LIMIT="50")
    try:
        assert_one_key_limited(served.url, served.port)
    finally:
        served.kill_if_running()


def test_an_institutions_own_rate_replaces_the_servers(tmp_path: Path) -> None:
    limiter = RateLimiter(tmp_path, rate=None)
    assert [limiter.admit("2710000019", NOW, own_rate=2) for _ in range(3)] == [0, 0, 1]
    assert [limiter.admit("2740000029", NOW) for _ in range(5)] == [0] * 5  # no rate at all
    served = RateLimiter(tmp_path, rate=1, burst=1)
    assert [served.admit("1310000019", NOW, own_rate=3) for _ in range(4)] == [0, 0, 0, 1]


def test_own_rates_travel_from_the_data_set_through_a_snapshot_file(tmp_path: Path) -> None:
    data = copy_examples(tmp_path / "data")
    with_rate_limit(data / "institutions.csv", {"2710000019": "7"})
    dataset = load_dir(data)
    assert dataset.rate_limits == {"2710000019": 7}
    write_snapshot(*dataset.build(), tmp_path / "s.snap", 0, dataset.rate_limits)
    assert generation_of(*open_snapshot(tmp_path / "s.snap")).rate_limits == {"2710000019": 7}
    with_rate_limit(data / "institutions.csv", {"2710000019": "0"})
    with pytest.raises(DataSetError) as refused:
        load_dir(data)
    assert refused.value.problems == ["institutions.csv:2: rate_limit: not an integer from 1 to 2^63-1"]


@pytest.mark.slow
def test_an_own_rate_limits_a_served_clinic_from_files(tmp_path: Path) -> None:
    data = copy_examples(tmp_path / "data")
    with_rate_limit(data / "institutions.csv", {"2710000019": "2"})
    served = serve(tmp_path, ["--data", str(data)])
    try:
        headers = {"Authorization": "Bearer demo-key-clinic", "Content-Type": "application/json"}
        body = {"institution_code": "2710000019", **CARD_1}
        statuses = [http(served.url + "/v1/confirmations", body, headers)[0] for _ in range(8)]
        assert statuses.count(200) <= 3 and 429 in statuses
    finally:
        served.kill_if_running()
