"""Identifier normalisation and date arithmetic of RULES.md §2 and §3, shared by both cores.

Pure functions on Python values.  The compiled core has ASCII fast paths for the
common case and calls these for anything else, so both cores give the same answers.
Dates are day numbers as in `date.toordinal()` (0001-01-01 is 1).
"""

from __future__ import annotations

import unicodedata
from datetime import date

# Day numbers: "no end" is a day after every representable date.
NO_END = 10_000_000

# The Unicode White_Space property (RULES.md §2: "remove every white-space character").
WHITE_SPACE = frozenset(
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d")
FORBIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn"))
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")

SYMBOL_MAX = 20
NUMBER_MAX = 20
SERIAL_MAX = 32

# Outcome of a normalisation: the canonical value, or the field error code.
FORMAT = "FORMAT"
LENGTH = "LENGTH"
CHECK_DIGIT = "CHECK_DIGIT"


def _is_ascii_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def insurer_check_digit(body: str) -> int:
    """Return the check digit for the digits `body` (weights 2, 1, 2, … from the right)."""
    total = 0
    weight = 2
    for ch in reversed(body):
        product = (ord(ch) - 48) * weight
        total += product // 10 + product % 10
        weight = 3 - weight
    return (10 - total % 10) % 10


def normalise_insurer_number(raw: str) -> tuple[str | None, str | None]:
    """Return (canonical insurer number, None) or (None, error code)."""
    value = unicodedata.normalize("NFKC", raw.replace(" ", "").replace("\u3000", ""))
    if not _is_ascii_digits(value) or len(value) not in (6, 8):
        return None, FORMAT
    if len(value) == 8 and value.startswith("00"):
        value = value[2:]  # a zero-padded 国保 number is the same insurer
    if insurer_check_digit(value[:-1]) != ord(value[-1]) - 48:
        return None, CHECK_DIGIT
    return value, None


def normalise_code(raw: str, max_len: int, min_len: int) -> tuple[str | None, str | None]:
    """Normalise a symbol or number: NFKC, drop white space, unify dashes, refuse controls."""
    if raw.isascii() and raw.isprintable() and " " not in raw:
        value = raw  # NFKC and the dash map leave printable ASCII untouched
    else:
        value = "".join(
            "-" if ch in DASHES else ch for ch in unicodedata.normalize("NFKC", raw) if ch not in WHITE_SPACE
        )
        for ch in value:
            if unicodedata.category(ch) in FORBIDDEN_CATEGORIES:
                return None, FORMAT
    if not min_len <= len(value) <= max_len:
        return None, LENGTH
    return value, None


def normalise_symbol(raw: str) -> tuple[str | None, str | None]:
    """Return the canonical symbol (0–20 characters) or an error code."""
    return normalise_code(raw, SYMBOL_MAX, 0)


def normalise_number(raw: str) -> tuple[str | None, str | None]:
    """Return the canonical number (1–20 characters) or an error code."""
    return normalise_code(raw, NUMBER_MAX, 1)


def normalise_branch(raw: str) -> tuple[int | None, str | None]:
    """Return the branch as 0–99, -1 for an empty (omitted) branch, or an error code."""
    if raw == "":
        return -1, None
    value = raw if raw.isascii() else unicodedata.normalize("NFKC", raw)
    if len(value) != 2 or not _is_ascii_digits(value):
        return None, FORMAT
    return int(value), None


def normalise_serial(raw: str) -> tuple[str | None, str | None]:
    """Return the canonical (upper-case) certificate serial or an error code."""
    if not HEX_DIGITS.issuperset(raw):
        return None, FORMAT
    if not 1 <= len(raw) <= SERIAL_MAX:
        return None, LENGTH
    return raw.upper(), None


def is_institution_code(raw: str) -> bool:
    """Tell whether `raw` is exactly 10 ASCII digits."""
    return len(raw) == 10 and _is_ascii_digits(raw)


def parse_day(raw: str) -> int | None:
    """Parse a strict `YYYY-MM-DD` into a day number; None if malformed or impossible."""
    if len(raw) != 10 or raw[4] != "-" or raw[7] != "-":
        return None
    y, m, d = raw[0:4], raw[5:7], raw[8:10]
    if not (_is_ascii_digits(y) and _is_ascii_digits(m) and _is_ascii_digits(d)):
        return None
    try:
        return date(int(y), int(m), int(d)).toordinal()
    except ValueError:
        return None


def format_day(day: int) -> str:
    """Format a day number as `YYYY-MM-DD`."""
    return date.fromordinal(day).isoformat()


def _day(year: int, month: int, dom: int) -> int:
    return date(year, month, dom).toordinal()


def _last_of_month(year: int, month: int) -> int:
    """Day number of the last day of `month` (months past 12 roll into later years)."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    if month == 12:
        return _day(year + 1, 1, 1) - 1
    return _day(year, month + 1, 1) - 1


def attain_day(birth: int, years: int) -> int:
    """The day a person born on `birth` attains age `years`: the day before the birthday.

    For 29 February births the day before is 28 February in every year.
    """
    b = date.fromordinal(birth)
    if b.month == 2 and b.day == 29:
        return _day(b.year + years, 2, 28)
    return _day(b.year + years, b.month, b.day) - 1


def preschool_last_day(birth: int) -> int:
    """Last day of 未就学: the first 31 March on or after attaining age 6."""
    a = date.fromordinal(attain_day(birth, 6))
    return _day(a.year if a.month <= 3 else a.year + 1, 3, 31)


def elderly_first_day(birth: int) -> int:
    """First day of 高齢受給者: the 1st of the month after the month of attaining 70."""
    a = date.fromordinal(attain_day(birth, 70))
    return _last_of_month(a.year, a.month) + 1


def certificate_grace_end(expires: int) -> int:
    """Last usable day of a certificate: end of the 3rd month after the month of expiry."""
    e = date.fromordinal(expires)
    return _last_of_month(e.year, e.month + 3)


def registration_last_day(requested: int) -> int:
    """Last registered day after a deregistration request: end of the following month."""
    r = date.fromordinal(requested)
    return _last_of_month(r.year, r.month + 1)


FNV_BASIS = 0xCBF29CE484222325  # FNV-1a's 64-bit offset basis (also core_ext/_hashing.pxd)


def fnv1a(data: bytes, seed: int = FNV_BASIS) -> int:
    """64-bit FNV-1a hash of `data`, starting from `seed` (index hash of both cores)."""
    h = seed
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def key_hash(insurer_index: int, symbol: bytes, number: bytes) -> int:
    """Hash of a normalised key without its branch: (insurer, symbol, number)."""
    return fnv1a(symbol + b"\x1f" + number, fnv1a(insurer_index.to_bytes(4, "little")))
