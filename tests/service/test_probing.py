"""Probing limits (service/probing.py): the shared counts, then a real two-worker server
on which guessing a member's birthdate stops after five tries."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from core_ext import access_line
from service.probing import HOUR, ProbeGuard
from tests.conftest import EXAMPLES
from tests.processes import CARD_1, CLINIC_CODE, CLINIC_KEY, http, serve

NOW = 1_800_000_000.0  # 2027-01-15 17:00 in Japan: seven hours to midnight there
TO_MIDNIGHT = 7 * 3600
CLINIC = "2710000019"
MISS = b'{"results":[{"code":"NOT_FOUND"}]}'
HIT = b'{"code":"VALID"}'
ADMIN_TOKEN = "probing-test-" + "x" * 32


def lines(*records: tuple[str, str, int | None]) -> bytearray:
    """Access-log lines of (presented, code, person id) as the cores write them."""
    codes = {"VALID": 0, "NOT_FOUND": 2, "CERTIFICATE_UNKNOWN": 12}
    presented = {"myna_card": 0, "unspecified": 4}
    out = bytearray()
    for kind, code, person in records:
        out += access_line("t", CLINIC, presented[kind], codes[code], "r", person, None)
    return out


def test_misses_drain_over_an_hour_and_spare_the_card_path(tmp_path: Path) -> None:
    guard = ProbeGuard(tmp_path, miss_limit=10, key_miss_limit=None)
    unknown = lines(("unspecified", "NOT_FOUND", None))
    assert [guard.review(CLINIC, MISS, unknown, 0, NOW) for _ in range(10)] == [0] * 10
    assert guard.review(CLINIC, MISS, unknown, 0, NOW) == 0  # the 11th is answered, and counted
    assert guard.review(CLINIC, HIT, lines(("unspecified", "VALID", 1)), 0, NOW) == 360  # 1/10 h
    assert guard.review(CLINIC, HIT, lines(("myna_card", "VALID", 1)), 0, NOW) == 0
    assert guard.review("2740000029", MISS, unknown, 0, NOW) == 0
    assert guard.review(CLINIC, HIT, lines(("unspecified", "VALID", 1)), 0, NOW + 360) == 0


def test_batch_items_count_one_by_one(tmp_path: Path) -> None:
    guard = ProbeGuard(tmp_path, miss_limit=10, key_miss_limit=None)
    batch = b"[" + b",".join([b'{"code":"NOT_FOUND"}'] * 12) + b"]"
    assert guard.review(CLINIC, batch, lines(*[("unspecified", "NOT_FOUND", None)] * 12), 0, NOW) == 0
    assert guard.review(CLINIC, HIT, lines(("unspecified", "VALID", 1)), 0, NOW) == 720


def test_five_wrong_birthdates_lock_the_key_until_midnight_in_japan(tmp_path: Path) -> None:
    guard = ProbeGuard(tmp_path, miss_limit=None, key_miss_limit=5)
    wrong = lines(("unspecified", "NOT_FOUND", 1), ("unspecified", "NOT_FOUND", 2))  # a household
    assert [guard.review(CLINIC, MISS, wrong, 0, NOW) for _ in range(5)] == [0] * 5
    assert guard.review(CLINIC, HIT, lines(("unspecified", "VALID", 2)), 0, NOW) == TO_MIDNIGHT
    assert guard.review(CLINIC, MISS, wrong, 0, NOW + 10) == TO_MIDNIGHT - 10
    assert guard.review(CLINIC, HIT, lines(("myna_card", "VALID", 2)), 0, NOW) == 0  # the card works
    assert guard.review("2740000029", HIT, lines(("unspecified", "VALID", 2)), 0, NOW) == 0
    assert guard.review(CLINIC, HIT, lines(("unspecified", "VALID", 3)), 0, NOW) == 0
    assert guard.review(CLINIC, HIT, lines(("unspecified", "VALID", 2)), 0, NOW + TO_MIDNIGHT) == 0


def test_two_guards_on_one_directory_share_the_counts(tmp_path: Path) -> None:
    first, second = (ProbeGuard(tmp_path, miss_limit=4, key_miss_limit=3) for _ in range(2))
    wrong = lines(("unspecified", "NOT_FOUND", 9))
    for guard in (first, second, first):
        assert guard.review(CLINIC, MISS, wrong, 0, NOW) == 0
    assert second.review(CLINIC, HIT, lines(("unspecified", "VALID", 9)), 0, NOW) == TO_MIDNIGHT
    first.review(CLINIC, MISS, lines(("unspecified", "NOT_FOUND", None)), 0, NOW)
    first.review(CLINIC, MISS, lines(("unspecified", "NOT_FOUND", None)), 0, NOW)
    assert second.review(CLINIC, HIT, lines(("unspecified", "VALID", 1)), 0, NOW) == round(HOUR / 4)


def _post(url: str, body: dict[str, Any], key: str = CLINIC_KEY, code: str = CLINIC_CODE) -> Any:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return http(url, {"institution_code": code, **body}, headers)


def _metrics_show(url: str, pattern: str) -> bool:
    """Whether some worker's /metrics matches (each worker counts its own refusals)."""
    for _ in range(40):
        with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
            if re.search(pattern, r.read().decode()):
                return True
    return False


def by_number(birthdate: str, number: str = "123") -> dict[str, Any]:
    return {
        "presented": "unspecified",
        "insurer_number": "06270011",
        "symbol": "7-10",
        "number": number,
        "branch": "00",
        "birthdate": birthdate,
    }


@pytest.mark.slow
def test_guessing_a_birthdate_stops_after_five_tries_on_two_workers(tmp_path: Path) -> None:
    served = serve(
        tmp_path,
        ["--data", str(EXAMPLES / "data")],
        2,
        ONSHI_MISS_LIMIT="30",
        ONSHI_KEY_MISS_LIMIT="5",
        ONSHI_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    single, batch = served.url + "/v1/confirmations", served.url + "/v1/confirmations/batch"
    try:
        wrong = [f"1970-01-{day:02d}" for day in range(1, 6)]
        assert [_post(single, by_number(b))[1]["code"] for b in wrong] == ["NOT_FOUND"] * 5
        status, answer = _post(single, by_number("1970-01-20"))  # the right one, too late
        assert (status, answer["error"]["code"]) == (429, "RATE_LIMITED")
        # The pharmacy may still ask, and the clinic may still read the card.
        assert _post(single, by_number("1970-01-20"), "demo-key-pharmacy", "2740000029")[1]["code"] == "VALID"
        assert _post(single, CARD_1)[1]["code"] == "VALID"
        locked_batch = {"items": [CARD_1, by_number("1970-01-20")]}
        assert _post(batch, locked_batch)[0] == 429
        # The member sees the five tries, by institution, marked as mismatches.
        status, seen = http(
            served.url + "/v1/admin/persons/1/access-log", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        tries = [r for r in seen if r["birthdate_mismatch"]]
        assert len(tries) == 5 and {(r["code"], r["institution_code"]) for r in tries} == {
            ("NOT_FOUND", CLINIC)
        }
        assert {r["code"] for r in seen if not r["birthdate_mismatch"]} == {"VALID"}  # the pharmacy, the card
        # Unknown keys: 30 misses an hour, batch items one by one, then the number path is refused.
        misses = {"items": [by_number("1970-01-20", str(900 + i)) for i in range(25)]}
        status, answer = _post(batch, misses)
        assert status == 200 and {r["code"] for r in answer["results"]} == {"NOT_FOUND"}
        # 30 used (5 + 25): the next miss is still answered, and is one too many.
        assert _post(single, by_number("1972-04-05", "124"))[1]["code"] == "NOT_FOUND"
        status, answer = _post(single, by_number("2020-09-09", "123"))
        assert status == 429 and answer["error"]["code"] == "RATE_LIMITED"
        assert _post(single, CARD_1)[1]["code"] == "VALID"
        assert _metrics_show(served.url, r'onshi_refusals_total\{reason="miss_limit"\} [1-9]')
        assert _metrics_show(served.url, r'onshi_probe_events_total\{event="keys_locked"\} [1-9]')
        assert "06270011" not in served.output() and "1970-01-0" not in served.output()
        assert f"{CLINIC_CODE}" in served.output()  # the warning names the institution only
    finally:
        served.kill_if_running()


def test_quiet_is_the_common_case_only(tmp_path: Path) -> None:
    guard = ProbeGuard(tmp_path, miss_limit=1, key_miss_limit=1)
    hit = lines(("unspecified", "VALID", 1))
    assert not guard.quiet(CLINIC, hit, 0, NOW)  # not seen yet: review it
    assert guard.review(CLINIC, HIT, hit, 0, NOW) == 0
    assert guard.quiet(CLINIC, hit, 0, NOW)
    assert not guard.quiet(CLINIC, lines(("unspecified", "NOT_FOUND", 1)), 0, NOW)
    guard.review(CLINIC, MISS, lines(("unspecified", "NOT_FOUND", 1)), 0, NOW)  # locks person 1
    guard.review(CLINIC, MISS, lines(("unspecified", "NOT_FOUND", None)), 0, NOW)  # over the hour's one
    assert not guard.quiet(CLINIC, hit, 0, NOW)
