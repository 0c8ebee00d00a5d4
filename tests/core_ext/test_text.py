"""RULES.md §2 normalisation and the date arithmetic of §3 and §4."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import core_ext
from core_ext import _text


def d(text: str) -> int:
    return date.fromisoformat(text).toordinal()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("33120015", ("33120015", None)),  # the RULES.md example
        ("３３１２００１５", ("33120015", None)),
        (" 3312 0015　", ("33120015", None)),
        ("33120014", (None, "CHECK_DIGIT")),
        ("3312001", (None, "FORMAT")),
        ("3312001a", (None, "FORMAT")),
        ("٣٣١٢٠٠١٥", (None, "FORMAT")),  # Arabic-Indic digits are digits, but not ASCII
        ("", (None, "FORMAT")),
    ],
)
def test_insurer_number(raw: str, expected: tuple[str | None, str | None]) -> None:
    assert _text.normalise_insurer_number(raw) == expected


def test_zero_padded_kokuho_is_the_six_digit_insurer() -> None:
    six = "27110" + str(_text.insurer_check_digit("27110"))
    assert _text.normalise_insurer_number("00" + six) == (six, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("７－１０", ("7-10", None)),
        ("7‐10", ("7-10", None)),
        ("7−10", ("7-10", None)),
        ("7﹣10", ("7-10", None)),
        ("7―10", ("7-10", None)),
        (" 7 - 10\t", ("7-10", None)),
        ("北浜", ("北浜", None)),
        ("ab", ("ab", None)),  # case is kept
        ("7\u200b10", (None, "FORMAT")),  # Cf
        ("7\x0010", (None, "FORMAT")),  # Cc
        ("7\ue00010", (None, "FORMAT")),  # Co
        ("7\U000e007f", (None, "FORMAT")),  # Cf tag character
        ("1" * 21, (None, "LENGTH")),
        ("", ("", None)),
    ],
)
def test_symbol(raw: str, expected: tuple[str | None, str | None]) -> None:
    assert _text.normalise_symbol(raw) == expected


def test_number_needs_one_character_after_normalisation() -> None:
    assert _text.normalise_number("　") == (None, "LENGTH")
    assert _text.normalise_number("０１２３") == ("0123", None)
    assert _text.normalise_number("1" * 20) == ("1" * 20, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", (-1, None)),
        ("00", (0, None)),
        ("０１", (1, None)),
        ("1", (None, "FORMAT")),
        ("001", (None, "FORMAT")),
        ("a1", (None, "FORMAT")),
    ],
)
def test_branch(raw: str, expected: tuple[int | None, str | None]) -> None:
    assert _text.normalise_branch(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abcdef01", ("ABCDEF01", None)),
        ("F" * 32, ("F" * 32, None)),
        ("F" * 33, (None, "LENGTH")),
        ("", (None, "LENGTH")),
        ("XYZ", (None, "FORMAT")),
        ("ＡＢ", (None, "FORMAT")),
    ],
)
def test_serial(raw: str, expected: tuple[str | None, str | None]) -> None:
    assert _text.normalise_serial(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "2025-13-01",
        "2025-02-29",
        "2025-1-01",
        "20250101",
        "2025-W01-1",
        "0000-01-01",
        "２０２５-01-01",
        "2025-01-01T00:00",
        "",
    ],
)
def test_parse_day_is_strict(raw: str) -> None:
    assert _text.parse_day(raw) is None


def test_parse_day_leap_day() -> None:
    assert _text.parse_day("2024-02-29") == d("2024-02-29")


@pytest.mark.parametrize(
    ("birth", "n", "attained"),
    [
        ("1980-01-01", 6, "1985-12-31"),
        ("1956-02-29", 70, "2026-02-28"),
        ("1956-02-29", 68, "2024-02-28"),
        ("2000-03-01", 75, "2075-02-28"),
    ],
)
def test_attain(birth: str, n: int, attained: str) -> None:
    assert _text.attain_day(d(birth), n) == d(attained)


@pytest.mark.parametrize(
    ("expires", "grace"),
    [
        ("2025-01-15", "2025-04-30"),
        ("2025-11-30", "2026-02-28"),
        ("2023-11-01", "2024-02-29"),
        ("2025-12-31", "2026-03-31"),
    ],
)
def test_certificate_grace_end(expires: str, grace: str) -> None:
    assert _text.certificate_grace_end(d(expires)) == d(grace)


@pytest.mark.parametrize(
    ("requested", "last"),
    [
        ("2025-01-15", "2025-02-28"),
        ("2024-01-31", "2024-02-29"),
        ("2024-12-01", "2025-01-31"),
        ("2025-11-30", "2025-12-31"),
    ],
)
def test_registration_last_day(requested: str, last: str) -> None:
    assert _text.registration_last_day(d(requested)) == d(last)


def attained(birth: date, n: int) -> date:
    """RULES.md §3, written plainly: the day before the n-th birthday; 28 February for a
    29 February birth (a leap year's 28 February too: the day before 29 February)."""
    if (birth.month, birth.day) == (2, 29):
        return date(birth.year + n, 2, 28)
    return date(birth.year + n, birth.month, birth.day) - timedelta(days=1)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)))
@example(date(2020, 2, 29))
@example(date(1956, 2, 29))
@example(date(2019, 4, 1))
@example(date(2019, 4, 2))
@example(date(1955, 1, 1))
@example(date(1955, 12, 31))
def test_age_boundaries_agree_with_the_rules_written_plainly(birth: date) -> None:
    attained6 = date.fromordinal(_text.attain_day(birth.toordinal(), 6))
    assert attained6 == attained(birth, 6)
    march_31 = date(attained6.year, 3, 31)
    if march_31 < attained6:
        march_31 = date(attained6.year + 1, 3, 31)
    assert date.fromordinal(_text.preschool_last_day(birth.toordinal())) == march_31
    attained70 = date.fromordinal(_text.attain_day(birth.toordinal(), 70))
    assert attained70 == attained(birth, 70)
    month_after = date(attained70.year + attained70.month // 12, attained70.month % 12 + 1, 1)
    assert date.fromordinal(_text.elderly_first_day(birth.toordinal())) == month_after


@given(st.binary(max_size=40), st.binary(max_size=40), st.integers(0, 2**31 - 1))
def test_compiled_key_hash_equals_the_twin(symbol: bytes, number: bytes, insurer: int) -> None:
    assert core_ext.key_hash(insurer, symbol, number) == _text.key_hash(insurer, symbol, number)
