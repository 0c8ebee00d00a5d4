"""RULES.md §3 and §4, rule by rule and boundary by boundary, against both cores."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core_ext
from core_ext import _codes
from tests.population import (
    INSTITUTION,
    KENPO,
    KOKUHO,
    KOUKI,
    KUMIAI,
    Population,
    ask,
    by_number,
    card,
    day,
    insurer_number,
)


@pytest.fixture
def world() -> Population:
    """A small population that exercises every rule (see each test for its member)."""
    w = Population()
    # 1: registered, valid certificate, one qualification with a legacy card.
    w.person(1, "1970-01-20")
    w.qual(11, 1, "2010-04-01", limit="A04")
    w.doc(101, 11, "legacy_card", "2021-04-01")
    w.cert("AB01", 1, "2020-01-20", "2025-01-15")
    w.reg(1, "2021-10-20", dereg="2025-06-10")
    # 2: job change on 2025-01-01 with a 2-day overlap, certificate revoked later.
    w.person(2, "1990-05-05")
    w.qual(21, 2, "2016-04-01", "2025-01-03", insurer=KUMIAI, symbol="9", number="40")
    w.qual(22, 2, "2025-01-01", insurer=KENPO, symbol="33", number="8")
    w.cert("AB02", 2, "2022-01-01", "2030-01-01", revoked="2025-09-01", face_only=True)
    w.reg(2, "2022-03-03")
    # 3: not registered, 資格確認書 voided by a change, a second one.
    w.person(3, "1966-06-06", sex=2)
    w.qual(31, 3, "2000-04-01", income="high", symbol="77", number="1")
    w.doc(301, 31, "eligibility_certificate", "2025-01-10", "2025-12-31", void_from="2025-06-01")
    w.doc(302, 31, "eligibility_certificate", "2025-06-01", "2026-05-31")
    w.cert("AB03", 3, "2024-01-01", "2029-01-01")
    # 4: 国保 member who turns 75 on 2025-05-05 and moves to 後期高齢者.
    w.person(4, "1950-05-05")
    w.qual(41, 4, "2010-04-01", "2025-05-05", insurer=KOKUHO, symbol="北浜", number="777")
    w.qual(42, 4, "2025-05-05", insurer=KOUKI, symbol="", number="50505050", branch="", income="middle")
    w.doc(401, 41, "legacy_card", "2020-04-01")
    w.doc(402, 42, "eligibility_certificate", "2025-05-05", "2026-07-31")
    # 5, 6: twins under one key, branches 01 and 02; 7 their parent (branch 00).
    w.person(7, "1980-08-08")
    w.qual(71, 7, "2005-04-01", symbol="7-20", number="55")
    for pid, branch in ((5, "01"), (6, "02")):
        w.person(pid, "2015-07-07", sex=2)
        w.qual(pid * 10 + 1, pid, "2015-07-07", symbol="7-20", number="55", branch=branch, relationship=2)
    # 8: left and re-joined under the same key.
    w.person(8, "1985-02-02")
    w.qual(81, 8, "2015-04-01", "2020-04-01", symbol="88", number="8")
    w.qual(82, 8, "2021-04-01", symbol="88", number="8")
    # 9: born on 29 February; 10: born 1 April / 2 April (school-year boundary).
    w.person(9, "1956-02-29")
    w.qual(91, 9, "2000-01-01", symbol="29", number="2")
    w.person(10, "2019-04-01")
    w.qual(101, 10, "2019-04-01", symbol="41", number="1")
    w.person(11, "2019-04-02")
    w.qual(111, 11, "2019-04-02", symbol="41", number="2")
    # 12: two insurers in force at once, registered, certificate valid.
    w.person(12, "1988-03-03")
    w.qual(121, 12, "2018-04-01", symbol="12", number="1")
    w.qual(122, 12, "2025-03-01", insurer=KUMIAI, symbol="12", number="2")
    w.qual(123, 12, "2025-03-01", insurer=KOKUHO, symbol="12", number="3")
    w.cert("AB0C", 12, "2022-01-01", "2031-01-01")
    w.reg(12, "2022-01-01")
    # 13: a branch recorded without one; 14: recorded with no documents at all.
    w.person(13, "1975-01-01")
    w.qual(131, 13, "2010-01-01", symbol="13", number="1", branch="")
    # 15: lost with nothing newer, registered, certificate valid.
    w.person(15, "1958-10-10")
    w.qual(151, 15, "2000-04-01", "2025-02-01", symbol="15", number="5")
    w.cert("AB0F", 15, "2020-01-01", "2030-01-01")
    w.reg(15, "2021-05-05")
    return w


@pytest.fixture
def core(world: Population, impl: str) -> Any:
    return world.cores()[impl]


def code(core: Any, request: dict[str, Any]) -> str:
    answer = ask(core, request)
    assert answer["status"] == 200, answer
    return str(answer["code"])


# ----------------------------------------------------------- §3 attributes


@pytest.mark.parametrize(
    ("on", "preschool", "copay"),
    [
        ("2025-03-31", True, 20),  # born 2019-04-01: attains 6 on 2025-03-31
        ("2025-04-01", False, 30),
    ],
)
def test_preschool_ends_on_the_31_march_after_attaining_6(
    core: Any, on: str, preschool: bool, copay: int
) -> None:
    q = ask(core, by_number(on, "1", "2019-04-01", symbol="41"))["qualification"]
    assert (q["preschool"], q["copay_percent"]) == (preschool, copay)


@pytest.mark.parametrize(("on", "preschool"), [("2026-03-31", True), ("2026-04-01", False)])
def test_born_2_april_stays_preschool_a_year_longer(core: Any, on: str, preschool: bool) -> None:
    assert ask(core, by_number(on, "2", "2019-04-02", symbol="41"))["qualification"]["preschool"] is preschool


@pytest.mark.parametrize(
    ("on", "elderly", "copay"),
    [
        ("2020-04-30", False, 30),  # born 1950-05-05 attains 70 on 2020-05-04
        ("2020-05-31", False, 30),
        ("2020-06-01", True, 20),  # the 1st of the month after attaining 70
        ("2025-05-04", True, 20),
    ],
)
def test_elderly_recipient_from_the_month_after_attaining_70(
    core: Any, on: str, elderly: bool, copay: int
) -> None:
    q = ask(core, by_number(on, "777", "1950-05-05", insurer=KOKUHO, symbol="北浜"))["qualification"]
    assert (q["elderly_recipient"], q["copay_percent"]) == (elderly, copay)


def test_attaining_70_on_the_first_of_a_month_counts_from_that_month() -> None:
    w = Population()
    w.person(1, "1955-06-01")  # attains 70 on 2025-05-31 -> from 2025-06-01
    w.qual(1, 1, "2000-01-01")
    w.person(2, "1955-06-02")  # attains 70 on 2025-06-01 -> from 2025-07-01
    w.qual(2, 2, "2000-01-01")
    for core in w.cores().values():
        assert ask(core, by_number("2025-06-01", "1", "1955-06-01"))["qualification"]["elderly_recipient"]
        assert not ask(core, by_number("2025-06-30", "2", "1955-06-02"))["qualification"]["elderly_recipient"]
        assert ask(core, by_number("2025-07-01", "2", "1955-06-02"))["qualification"]["elderly_recipient"]


@pytest.mark.parametrize(("on", "elderly"), [("2026-02-28", False), ("2026-03-01", True)])
def test_29_february_birth_attains_age_on_28_february(core: Any, on: str, elderly: bool) -> None:
    # Born 1956-02-29: attains 70 on 2026-02-28 (not a leap year) -> from 2026-03-01.
    q = ask(core, by_number(on, "2", "1956-02-29", symbol="29"))["qualification"]
    assert q["elderly_recipient"] is elderly


def test_late_elderly_copay_by_income_and_no_elderly_flag(core: Any) -> None:
    q = ask(core, by_number("2025-05-05", "50505050", "1950-05-05", insurer=KOUKI, symbol=""))[
        "qualification"
    ]
    assert (q["late_elderly"], q["elderly_recipient"], q["copay_percent"]) == (True, False, 20)


def test_high_income_pays_30(core: Any) -> None:
    q = ask(core, by_number("2025-04-01", "1", "1966-06-06", symbol="77"))["qualification"]
    assert q["copay_percent"] == 30


@pytest.mark.parametrize(
    ("late", "elderly", "preschool", "income", "copay"),
    [
        (True, False, False, 0, 10),
        (True, False, False, 1, 20),
        (True, False, False, 2, 30),
        (False, True, False, 0, 20),
        (False, True, False, 1, 20),
        (False, True, False, 2, 30),
        (False, False, True, 2, 20),
        (False, False, False, 0, 30),
    ],
)
def test_copay_table(late: bool, elderly: bool, preschool: bool, income: int, copay: int) -> None:
    assert _codes.copay_percent(late, elderly, preschool, income) == copay


def test_limit_category_only_with_consent(core: Any) -> None:
    plain = ask(core, by_number("2025-04-01", "1", "1970-01-20"))["qualification"]
    consent = ask(core, by_number("2025-04-01", "1", "1970-01-20", consent={"limit_info": True}))
    none = ask(core, by_number("2025-04-01", "1", "1966-06-06", symbol="77", consent={"limit_info": True}))
    assert "limit_category" not in plain
    assert consent["qualification"]["limit_category"] == "A04"
    assert none["qualification"]["limit_category"] is None


# ---------------------------------------------------------- §4.1 card path


def test_card_valid_discloses_person_and_qualification(core: Any) -> None:
    a = ask(core, card("ab01", "2024-06-01"))  # serial compared case-insensitively
    assert (a["code"], a["eligible"], a["validity"]) == ("VALID", True, 1)
    assert a["person"] == {
        "name": "試験 太郎",
        "name_kana": "シケン タロウ",
        "sex": 1,
        "birthdate": "1970-01-20",
    }
    assert a["qualification"]["qualification_id"] == 11
    assert a["qualification"]["branch"] == "00" and a["qualification"]["lost_on"] is None


def test_proxy_cannot_use_the_card(core: Any) -> None:
    a = ask(core, card("AB01", "2024-06-01", proxy=True))
    assert (a["code"], a["validity"], a["person"], a["qualification"]) == (
        "PROXY_NOT_ALLOWED",
        None,
        None,
        None,
    )


def test_unknown_certificate(core: Any) -> None:
    assert code(core, card("FFFF", "2024-06-01")) == "CERTIFICATE_UNKNOWN"


@pytest.mark.parametrize(
    ("on", "expected", "warnings"),
    [
        ("2020-01-19", "CERTIFICATE_INVALID", []),  # before issued_on
        ("2025-01-15", "VALID", []),  # expires_on is the last valid day
        ("2025-01-16", "VALID", ["CERTIFICATE_GRACE_PERIOD"]),
        ("2025-04-30", "VALID", ["CERTIFICATE_GRACE_PERIOD"]),  # end of the 3rd month after expiry
        ("2025-05-01", "CERTIFICATE_INVALID", []),
    ],
)
def test_certificate_validity_and_grace(core: Any, on: str, expected: str, warnings: list[str]) -> None:
    a = ask(core, card("AB01", on))
    assert (a["code"], a["warnings"]) == (expected, warnings)


@pytest.mark.parametrize(("on", "expected"), [("2025-08-31", "VALID"), ("2025-09-01", "CERTIFICATE_INVALID")])
def test_revoked_on_is_the_first_invalid_day(core: Any, on: str, expected: str) -> None:
    assert code(core, card("AB02", on)) == expected


@pytest.mark.parametrize(
    ("auth", "expected"), [("pin", "FACE_AUTH_REQUIRED"), ("face", "VALID"), ("visual", "VALID")]
)
def test_face_only_card(core: Any, auth: str, expected: str) -> None:
    assert code(core, card("AB02", "2025-06-01", auth=auth)) == expected


def test_grace_warning_survives_a_refusal() -> None:
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2000-01-01")
    w.cert("AA", 1, "2020-01-01", "2025-01-15", face_only=True)
    for core in w.cores().values():
        a = ask(core, card("AA", "2025-02-01", auth="pin"))
        assert (a["code"], a["warnings"]) == ("FACE_AUTH_REQUIRED", ["CERTIFICATE_GRACE_PERIOD"])
        a = ask(core, card("AA", "2025-02-01"))
        assert (a["code"], a["warnings"]) == ("NOT_REGISTERED", ["CERTIFICATE_GRACE_PERIOD"])


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        ("2021-10-19", "NOT_REGISTERED"),  # before registered_on
        ("2021-10-20", "VALID"),
        ("2025-07-31", "VALID"),  # request 2025-06-10: registered through the end of July
        ("2025-08-01", "NOT_REGISTERED"),
    ],
)
def test_registration_window(on: str, expected: str) -> None:
    w = Population()
    w.person(1, "1970-01-20")
    w.qual(11, 1, "2010-04-01")
    w.cert("AB01", 1, "2020-01-20", "2030-01-15")
    w.reg(1, "2021-10-20", dereg="2025-06-10")
    for core in w.cores().values():
        assert code(core, card("AB01", on)) == expected


def test_deregistration_in_december_ends_in_january() -> None:
    w = Population()
    w.person(1, "1970-01-20")
    w.qual(11, 1, "2010-04-01")
    w.cert("AB01", 1, "2020-01-20", "2030-01-15")
    w.reg(1, "2021-10-20", dereg="2024-12-31")
    for core in w.cores().values():
        assert code(core, card("AB01", "2025-01-31")) == "VALID"
        assert code(core, card("AB01", "2025-02-01")) == "NOT_REGISTERED"


def test_registration_survives_a_change_of_insurer(core: Any) -> None:
    a = ask(core, card("AB02", "2025-01-05", auth="face"))
    assert (a["code"], a["qualification"]["qualification_id"]) == ("VALID", 22)


def test_overlap_gives_valid_multiple_latest_first(core: Any) -> None:
    a = ask(core, card("AB02", "2025-01-02"))
    assert (a["code"], a["validity"], a["eligible"]) == ("VALID_MULTIPLE", 5, True)
    assert a["qualification"]["qualification_id"] == 22
    assert [q["qualification_id"] for q in a["alternatives"]] == [21]


def test_valid_multiple_ties_broken_by_higher_id(core: Any) -> None:
    a = ask(core, card("AB0C", "2025-03-01", consent={"limit_info": True}))
    assert a["qualification"]["qualification_id"] == 123
    assert [q["qualification_id"] for q in a["alternatives"]] == [122, 121]
    assert all("limit_category" in q for q in a["alternatives"])


def test_card_path_without_qualification_in_force(core: Any) -> None:
    a = ask(core, card("AB0F", "2025-02-01"))
    assert (a["code"], a["validity"], a["eligible"]) == ("NO_VALID_QUALIFICATION", 2, False)
    assert a["qualification"]["qualification_id"] == 151
    assert a["qualification"]["lost_on"] == "2025-02-01"


def test_card_path_before_any_qualification_discloses_nothing(core: Any) -> None:
    a = ask(core, card("AB0F", "2000-01-01"))
    assert a["code"] == "CERTIFICATE_INVALID"
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2025-01-01")
    w.cert("AA", 1, "2020-01-01", "2030-01-01")
    w.reg(1, "2020-01-01")
    for c in w.cores().values():
        a = ask(c, card("AA", "2024-12-31"))
        assert (a["code"], a["qualification"], a["person"]) == ("NO_VALID_QUALIFICATION", None, None)


# -------------------------------------------------------- §4.2 number path


def test_number_path_valid(core: Any) -> None:
    a = ask(core, by_number("2025-04-01", "1", "1970-01-20", branch="00"))
    assert (a["code"], a["qualification"]["qualification_id"]) == ("VALID", 11)
    assert a["alternatives"] == []


def test_birthdate_mismatch_is_not_found(core: Any) -> None:
    a = ask(core, by_number("2025-04-01", "1", "1970-01-21"))
    assert (a["code"], a["validity"], a["person"], a["qualification"]) == ("NOT_FOUND", 4, None, None)


@pytest.mark.parametrize(
    "request_change",
    [
        {"insurer_number": KUMIAI},
        {"symbol": "1"},
        {"number": "01"},
        {"branch": "01"},
    ],
)
def test_any_other_key_is_not_found(core: Any, request_change: dict[str, str]) -> None:
    assert code(core, {**by_number("2025-04-01", "1", "1970-01-20"), **request_change}) == "NOT_FOUND"


def test_unknown_insurer_is_not_found(core: Any) -> None:
    from tests.population import insurer_number

    assert (
        code(core, by_number("2025-04-01", "1", "1970-01-20", insurer=insurer_number("0199999")))
        == "NOT_FOUND"
    )


def test_full_width_and_dashes_normalise(core: Any) -> None:
    a = ask(
        core,
        by_number(
            "2025-04-01",
            "５５",
            "2015-07-07",
            symbol="７‐２０",
            branch="０１",
            insurer="０１２７００１" + KENPO[-1],
        ),
    )
    assert (a["code"], a["qualification"]["symbol"], a["qualification"]["number"]) == ("VALID", "7-20", "55")


def test_twins_without_branch_are_ambiguous(core: Any) -> None:
    a = ask(core, by_number("2025-04-01", "55", "2015-07-07", symbol="7-20"))
    assert (a["code"], a["validity"], a["qualification"]) == ("AMBIGUOUS", 5, None)
    assert code(core, by_number("2025-04-01", "55", "2015-07-07", symbol="7-20", branch="")) == "AMBIGUOUS"


def test_twin_with_branch(core: Any) -> None:
    a = ask(core, by_number("2025-04-01", "55", "2015-07-07", symbol="7-20", branch="02"))
    assert (a["code"], a["qualification"]["qualification_id"], a["qualification"]["relationship"]) == (
        "VALID",
        61,
        2,
    )


def test_branch_never_matches_a_qualification_without_one(core: Any) -> None:
    assert code(core, by_number("2025-04-01", "1", "1975-01-01", symbol="13", branch="00")) == "NOT_FOUND"
    a = ask(core, by_number("2025-04-01", "1", "1975-01-01", symbol="13"))
    assert (a["code"], a["qualification"]["branch"]) == ("VALID", None)


@pytest.mark.parametrize(
    ("on", "expected", "qid"),
    [
        ("2015-03-31", "NOT_YET_EFFECTIVE", 81),  # before everything: the earliest
        ("2015-04-01", "VALID", 81),
        ("2020-03-31", "VALID", 81),
        ("2020-04-01", "LOST", 81),  # lost_on is the first day not covered
        ("2021-03-31", "LOST", 81),
        ("2021-04-01", "VALID", 82),  # re-joined under the same key
    ],
)
def test_rejoined_under_the_same_key(core: Any, on: str, expected: str, qid: int) -> None:
    a = ask(core, by_number(on, "8", "1985-02-02", symbol="88"))
    assert (a["code"], a["qualification"]["qualification_id"]) == (expected, qid)


@pytest.mark.parametrize(
    ("on", "expected", "validity"),
    [
        ("2025-05-04", "VALID", 1),
        ("2025-05-05", "SUPERSEDED", 3),  # the 75th birthday: the 後期 qualification starts
    ],
)
def test_75th_birthday_supersedes_the_old_number(core: Any, on: str, expected: str, validity: int) -> None:
    a = ask(core, by_number(on, "777", "1950-05-05", insurer=KOKUHO, symbol="北浜"))
    assert (a["code"], a["validity"]) == (expected, validity)
    assert a["qualification"]["qualification_id"] == 41  # the new one is never disclosed here
    assert a["alternatives"] == []


def test_lost_without_anything_newer(core: Any) -> None:
    a = ask(core, by_number("2025-02-01", "5", "1958-10-10", symbol="15"))
    assert (a["code"], a["validity"], a["qualification"]["lost_on"]) == ("LOST", 2, "2025-02-01")


def test_new_number_before_its_start(core: Any) -> None:
    a = ask(core, by_number("2024-12-31", "8", "1990-05-05", symbol="33"))
    assert (a["code"], a["validity"]) == ("NOT_YET_EFFECTIVE", 2)


@pytest.mark.parametrize(
    ("on", "expected", "warnings"),
    [
        ("2025-10-31", "VALID", []),  # cut-off 2025-12-01 is 31 days away
        ("2025-11-01", "VALID", ["DOCUMENT_EXPIRES_SOON"]),  # 30 days
        ("2025-12-01", "VALID", ["DOCUMENT_EXPIRES_SOON"]),  # the default cut-off is inclusive
        ("2025-12-02", "DOCUMENT_EXPIRED", []),
    ],
)
def test_legacy_card_default_cutoff(core: Any, on: str, expected: str, warnings: list[str]) -> None:
    a = ask(core, by_number(on, "1", "1970-01-20", presented="legacy_card"))
    assert (a["code"], a["warnings"]) == (expected, warnings)


@pytest.mark.parametrize(("on", "expected"), [("2025-05-04", "VALID"), ("2020-03-31", "DOCUMENT_NOT_ISSUED")])
def test_legacy_card_before_insurer_cutoff_and_before_issue(core: Any, on: str, expected: str) -> None:
    a = ask(core, by_number(on, "777", "1950-05-05", presented="legacy_card", insurer=KOKUHO, symbol="北浜"))
    assert a["code"] == expected


def test_legacy_card_insurer_cutoff_is_inclusive() -> None:
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2000-01-01", insurer=KOKUHO)
    w.doc(1, 1, "legacy_card", "2020-01-01")
    w.person(2, "1970-01-01")
    w.qual(2, 2, "2000-01-01", insurer=KOKUHO)
    w.doc(2, 2, "legacy_card", "2020-01-01", valid_until="2025-03-31")
    for core in w.cores().values():

        def ask_(on: str, n: str, core: Any = core) -> str:
            return str(ask(core, by_number(on, n, "1970-01-01", "legacy_card", KOKUHO))["code"])

        assert (ask_("2025-07-31", "1"), ask_("2025-08-01", "1")) == ("VALID", "DOCUMENT_EXPIRED")
        assert (ask_("2025-03-31", "2"), ask_("2025-04-01", "2")) == ("VALID", "DOCUMENT_EXPIRED")


@pytest.mark.parametrize(
    ("insurer", "last_day"),
    [(KOKUHO, "2025-07-31"), (KENPO, "2025-12-01")],
    ids=["insurer cut-off", "no insurer cut-off"],
)
def test_legacy_card_valid_until_past_the_cutoff_ends_at_the_cutoff(
    impl: str, insurer: str, last_day: str
) -> None:
    """min(valid_until, the insurer's date or 2025-12-01): a later printed expiry does not help."""
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2000-01-01", insurer=insurer)
    w.doc(1, 1, "legacy_card", "2020-01-01", valid_until="2027-03-31")
    core = w.cores()[impl]
    after = date.fromisoformat(last_day) + timedelta(days=1)
    codes = [
        ask(core, by_number(on, "1", "1970-01-01", "legacy_card", insurer))["code"]
        for on in (last_day, after.isoformat())
    ]
    assert codes == ["VALID", "DOCUMENT_EXPIRED"]


def test_legacy_card_void_from_is_exclusive_and_not_a_warning() -> None:
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2000-01-01")
    w.doc(1, 1, "legacy_card", "2020-01-01", void_from="2025-03-01")
    for core in w.cores().values():
        a = ask(core, by_number("2025-02-28", "1", "1970-01-01", "legacy_card"))
        assert (a["code"], a["warnings"]) == ("VALID", [])
        assert (
            ask(core, by_number("2025-03-01", "1", "1970-01-01", "legacy_card"))["code"] == "DOCUMENT_EXPIRED"
        )


def test_legacy_card_not_issued(core: Any) -> None:
    assert (
        code(core, by_number("2025-04-01", "1", "1966-06-06", "legacy_card", symbol="77"))
        == "DOCUMENT_NOT_ISSUED"
    )


@pytest.mark.parametrize(
    ("on", "expected", "warnings"),
    [
        ("2025-01-09", "DOCUMENT_NOT_ISSUED", []),
        ("2025-01-10", "VALID", []),
        ("2025-05-31", "VALID", []),  # first one voided from 2025-06-01, second issued then
        ("2025-06-01", "VALID", []),
        ("2026-05-01", "VALID", ["DOCUMENT_EXPIRES_SOON"]),
        ("2026-05-31", "VALID", ["DOCUMENT_EXPIRES_SOON"]),
        ("2026-06-01", "DOCUMENT_EXPIRED", []),
    ],
)
def test_eligibility_certificate(core: Any, on: str, expected: str, warnings: list[str]) -> None:
    a = ask(core, by_number(on, "1", "1966-06-06", "eligibility_certificate", symbol="77"))
    assert (a["code"], a["warnings"]) == (expected, warnings)
    if expected.startswith("DOCUMENT"):
        assert (a["validity"], a["eligible"], a["qualification"]["qualification_id"]) == (1, False, 31)


def test_expires_soon_looks_at_the_document_that_ends_last() -> None:
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2000-01-01")
    w.doc(1, 1, "eligibility_certificate", "2025-01-01", "2025-04-10")
    w.doc(2, 1, "eligibility_certificate", "2025-02-01", "2026-01-31")
    for core in w.cores().values():
        assert (
            ask(core, by_number("2025-04-01", "1", "1970-01-01", "eligibility_certificate"))["warnings"] == []
        )


def test_info_notice_needs_the_card(core: Any) -> None:
    a = ask(core, by_number("2025-04-01", "1", "1970-01-20", "info_notice"))
    assert (a["code"], a["validity"], a["qualification"]) == ("INFO_NOTICE_ALONE", None, None)
    a = ask(core, by_number("2025-04-01", "1", "1970-01-20", "info_notice", identity_verified=False))
    assert a["code"] == "INFO_NOTICE_ALONE"
    assert (
        code(core, by_number("2025-04-01", "1", "1970-01-20", "info_notice", identity_verified=True))
        == "VALID"
    )


def test_info_notice_proxy_comes_first(core: Any) -> None:
    a = ask(core, by_number("2025-04-01", "1", "1970-01-20", "info_notice", proxy=True))
    assert a["code"] == "PROXY_NOT_ALLOWED"


def test_proxy_may_use_the_number_path_otherwise(core: Any) -> None:
    assert code(core, by_number("2025-04-01", "1", "1970-01-20", "legacy_card", proxy=True)) == "VALID"


@pytest.mark.parametrize(("on", "expected"), [("2025-07-31", "VALID"), ("2025-08-01", "NOT_REGISTERED")])
def test_info_notice_needs_a_registration_in_force(core: Any, on: str, expected: str) -> None:
    a = ask(core, by_number(on, "1", "1970-01-20", "info_notice", identity_verified=True))
    assert a["code"] == expected
    if expected == "NOT_REGISTERED":
        assert (a["validity"], a["qualification"], a["person"]) == (None, None, None)


def test_lost_comes_before_documents(core: Any) -> None:
    assert code(core, by_number("2025-02-01", "5", "1958-10-10", "legacy_card", symbol="15")) == "LOST"


def test_outcome_table_matches_rules() -> None:
    table = {o.name: (o.eligible, o.validity, o.discloses) for o in _codes.OUTCOMES}
    assert table == {
        "VALID": (True, 1, True),
        "VALID_MULTIPLE": (True, 5, True),
        "NOT_FOUND": (False, 4, False),
        "AMBIGUOUS": (False, 5, False),
        "NOT_YET_EFFECTIVE": (False, 2, True),
        "LOST": (False, 2, True),
        "SUPERSEDED": (False, 3, True),
        "NO_VALID_QUALIFICATION": (False, 2, True),
        "DOCUMENT_NOT_ISSUED": (False, 1, True),
        "DOCUMENT_EXPIRED": (False, 1, True),
        "INFO_NOTICE_ALONE": (False, None, False),
        "PROXY_NOT_ALLOWED": (False, None, False),
        "CERTIFICATE_UNKNOWN": (False, None, False),
        "CERTIFICATE_INVALID": (False, None, False),
        "FACE_AUTH_REQUIRED": (False, None, False),
        "NOT_REGISTERED": (False, None, False),
    }
    assert all(o.message and not o.message.isascii() for o in _codes.OUTCOMES)


def test_compiled_core_is_built() -> None:
    """CI must exercise the Cython core, not silently only the twin."""
    assert "c" in core_ext.IMPLEMENTATIONS


def test_decision_counts(core: Any) -> None:
    ask(core, by_number("2025-04-01", "1", "1970-01-20"))
    ask(core, card("FFFF", "2024-06-01"))
    counts = core.code_counts
    assert counts[_codes.VALID] == 1 and counts[_codes.CERTIFICATE_UNKNOWN] == 1 and sum(counts) == 2


# Characters that need escapes, and ones that do not, so runs of plain text cross the
# compiled writer's 8-byte steps with an escape at every position.
TEXT = st.text(alphabet=st.sampled_from('a"\\\t\x01\x1f\x7f 山ヤー'), min_size=1, max_size=40)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=TEXT)
def test_any_name_is_answered_intact(impl: str, name: str) -> None:
    w = Population()
    w.person(1, "1980-01-01", name=name)
    w.qual(11, 1, "2020-04-01", number="12")
    status, raw = w.cores()[impl].confirm(
        orjson.dumps({"institution_code": INSTITUTION, **by_number("2025-04-01", "12", "1980-01-01")}),
        INSTITUTION,
        day("2025-04-01"),
        "r",
        "t",
        b"{}",
    )
    assert status == 200 and orjson.loads(raw)["person"]["name"] == name


def test_text_needing_json_escapes_is_answered_intact(impl: str) -> None:
    """Text is copied into the answer bytes as is: quotes, backslashes and controls are escaped."""
    w = Population()
    other = insurer_number("0127002")
    w.insurer(other, name='保険者 "本部" \\ 支部')
    w.person(1, "1980-01-01", name='山田 "ヤマ"\\太郎\t', kana="ヤマダ\u0001")
    w.qual(11, 1, "2020-04-01", insurer=other, symbol='A"\\', number="12")
    answer = ask(w.cores()[impl], by_number("2025-04-01", "12", "1980-01-01", insurer=other, symbol='A"\\'))
    assert answer["code"] == "VALID", answer
    assert answer["person"]["name"] == '山田 "ヤマ"\\太郎\t'
    assert answer["person"]["name_kana"] == "ヤマダ\u0001"
    assert answer["qualification"]["symbol"] == 'A"\\'
    assert answer["qualification"]["insurer_name"] == '保険者 "本部" \\ 支部'


def test_long_text_survives_the_arena(impl: str) -> None:
    """Strings of 255 bytes and more use the arena's long length form."""
    w = Population()
    long_name = "長" * 120  # 360 bytes of UTF-8
    w.person(1, "1980-01-01", name=long_name, kana="ア" * 85)  # exactly 255 bytes
    w.qual(11, 1, "2020-04-01", number="12")
    answer = ask(w.cores()[impl], by_number("2025-04-01", "12", "1980-01-01"))
    assert answer["person"]["name"] == long_name
    assert answer["person"]["name_kana"] == "ア" * 85


def test_ids_beyond_32_bits_are_answered_exactly(impl: str, tmp_path: Any) -> None:
    """Ids are stored in 32 bits; larger ones (up to 2^63 - 1) come from the overflow table."""
    from core_ext._file import open_snapshot, write_snapshot
    from service.dataset import validate

    w = Population()
    big_person, big_qual = 2**40 + 7, 2**63 - 1
    w.person(big_person, "1980-01-01")
    w.qual(big_qual, big_person, "2020-04-01", number="12")
    w.person(2**32 - 1, "1981-01-01")  # exactly the marker value
    w.qual(2**32 - 1, 2**32 - 1, "2020-04-01", number="13")
    data = core_ext.snapshot(validate(w.sources()).tables)
    write_snapshot(data, {}, tmp_path / "big.snap")
    mapped = open_snapshot(tmp_path / "big.snap").data
    for snapshot in (data, mapped):
        core = core_ext.IMPLEMENTATIONS[impl](snapshot)
        for number, birth, qid, pid in (
            ("12", "1980-01-01", big_qual, big_person),
            ("13", "1981-01-01", 2**32 - 1, 2**32 - 1),
        ):
            log = bytearray()
            body = orjson.dumps({"institution_code": INSTITUTION, **by_number("2025-04-01", number, birth)})
            status, answer = core.confirm(body, INSTITUTION, day("2025-04-01"), "r", "t", b"{}", False, log)
            assert orjson.loads(answer)["qualification"]["qualification_id"] == qid
            assert log == f"t,{INSTITUTION},unspecified,VALID,r,{pid},{qid}\n".encode()


@pytest.mark.parametrize("serial", ["A", "ABC", "0F" * 16, "1" * 31])
def test_serials_of_any_length_are_found(impl: str, serial: str) -> None:
    """Serials are stored two hex digits a byte; odd lengths and 32 digits must still match."""
    w = Population()
    w.person(1, "1980-01-01")
    w.qual(11, 1, "2020-04-01")
    w.cert(serial, 1, "2024-01-01", "2029-01-01")
    w.person(2, "1981-01-01")  # not registered: matching its certificate would not be VALID
    w.qual(21, 2, "2020-04-01")
    w.cert(serial + "0" if len(serial) < 32 else "9", 2, "2024-01-01", "2029-01-01")  # a near miss
    w.reg(1, "2024-02-01")
    core = w.cores()[impl]
    assert ask(core, card(serial.lower(), "2025-04-01"))["code"] == "VALID"
    assert ask(core, card(serial[:-1] or "B", "2025-04-01"))["code"] == "CERTIFICATE_UNKNOWN"


def test_zero_padded_kokuho_number_finds_the_six_digit_insurer(impl: str) -> None:
    """ "00" + a 6-digit 国保 number is that insurer (RULES.md §2), in a plain ASCII body too."""
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2000-01-01", insurer=KOKUHO, number="123456")
    core = w.cores()[impl]
    for insurer in (KOKUHO, "00" + KOKUHO, "００" + KOKUHO):
        a = ask(core, by_number("2025-04-01", "123456", "1970-01-01", insurer=insurer))
        assert (a["code"], a["qualification"]["insurer_number"]) == ("VALID", KOKUHO), insurer


# The compiled core computes these dates itself (Neri-Schneider); here through whole
# decisions, at the edges a month-length or year-end mistake would move.


@pytest.mark.parametrize(
    ("expires", "last_usable"),
    [("2025-11-30", "2026-02-28"), ("2025-12-31", "2026-03-31"), ("2023-11-30", "2024-02-29")],
)
def test_certificate_grace_ends_on_the_last_day_of_the_third_month(
    impl: str, expires: str, last_usable: str
) -> None:
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2000-01-01")
    w.cert("C1", 1, "2020-01-01", expires)
    w.reg(1, "2020-01-01")
    core = w.cores()[impl]
    after = (date.fromisoformat(last_usable) + timedelta(days=1)).isoformat()
    last = ask(core, card("C1", last_usable))
    assert (last["code"], last["warnings"]) == ("VALID", ["CERTIFICATE_GRACE_PERIOD"])
    assert ask(core, card("C1", after))["code"] == "CERTIFICATE_INVALID"


def test_certificate_edges_issue_day_revoked_in_grace_face_only(impl: str) -> None:
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2000-01-01")
    w.cert("C1", 1, "2024-03-01", "2025-01-15", revoked="2025-03-01", face_only=True)
    w.reg(1, "2024-03-01")
    core = w.cores()[impl]
    assert ask(core, card("C1", "2024-03-01"))["code"] == "VALID"  # D == issued_on
    assert ask(core, card("C1", "2024-02-29"))["code"] == "CERTIFICATE_INVALID"
    assert ask(core, card("C1", "2025-02-28"))["code"] == "VALID"  # in grace, not yet revoked
    assert ask(core, card("C1", "2025-03-01"))["code"] == "CERTIFICATE_INVALID"  # revoked inside grace
    # Revoked wins over face-only: step 3 comes before step 4.
    assert ask(core, card("C1", "2025-03-01", auth="pin"))["code"] == "CERTIFICATE_INVALID"
    assert ask(core, card("C1", "2025-02-28", auth="pin"))["code"] == "FACE_AUTH_REQUIRED"
    # A proxy is refused before the serial is even looked up.
    assert ask(core, card("FFFF", "2025-02-28", proxy=True))["code"] == "PROXY_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("on", "elderly", "preschool"),
    [
        ("2024-12-31", False, True),  # attains 70 / 6 on 31 December ...
        ("2025-01-01", True, True),  # ... so 高齢受給者 from 1 January
        ("2025-03-31", True, True),  # preschool through the 31 March after attaining 6
        ("2025-04-01", True, False),
    ],
)
def test_born_on_1_january(impl: str, on: str, elderly: bool, preschool: bool) -> None:
    w = Population()
    w.person(1, "1955-01-01")
    w.qual(1, 1, "2000-01-01", number="1")
    w.person(2, "2019-01-01")
    w.qual(2, 2, "2019-01-01", number="2")
    core = w.cores()[impl]
    old = ask(core, by_number(on, "1", "1955-01-01"))["qualification"]
    child = ask(core, by_number(on, "2", "2019-01-01"))["qualification"]
    assert old["elderly_recipient"] is elderly
    assert child["preschool"] is preschool
    assert (old["copay_percent"], child["copay_percent"]) == (20 if elderly else 30, 20 if preschool else 30)


@pytest.mark.parametrize(
    ("second_acquired", "expected"),
    [("2024-01-01", 3), ("2020-01-01", 3), ("2019-01-01", 2)],
    ids=["later start wins", "same start: higher id", "earlier start loses"],
)
def test_one_person_with_two_qualifications_in_force_under_one_key(
    impl: str, second_acquired: str, expected: int
) -> None:
    """RULES.md §4.2 step 3: several in force on D → the latest acquired_on, then the higher id."""
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(2, 1, "2020-01-01", number="1")
    w.qual(3, 1, second_acquired, number="1")
    a = ask(w.cores()[impl], by_number("2025-04-01", "1", "1970-01-01"))
    assert (a["code"], a["qualification"]["qualification_id"]) == ("VALID", expected)


def test_documents_expiring_soon_are_flagged_only_for_the_presented_document(impl: str) -> None:
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2000-01-01", number="1")
    w.doc(1, 1, "eligibility_certificate", "2024-12-02", valid_until="2025-04-30")
    w.reg(1, "2020-01-01")
    core = w.cores()[impl]

    def warnings(presented: str, **extra: Any) -> list[str]:
        a = ask(core, by_number("2025-04-01", "1", "1970-01-01", presented=presented, **extra))
        assert a["code"] == "VALID", a
        return list(a["warnings"])

    assert warnings("eligibility_certificate") == ["DOCUMENT_EXPIRES_SOON"]  # 29 days left
    assert warnings("unspecified") == []
    assert warnings("info_notice", identity_verified=True) == []
