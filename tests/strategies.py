"""Hypothesis strategies shared by the core and HTTP tests."""

from __future__ import annotations

from hypothesis import strategies as st

# Any JSON value, nested a little (finite floats: orjson refuses infinities when writing).
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=15),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
# Every field a confirmation item may carry (CONTRACT.md §2).
REQUEST_FIELDS = [
    "institution_code",
    "confirmation_date",
    "presented",
    "certificate_serial",
    "auth_method",
    "insurer_number",
    "symbol",
    "number",
    "branch",
    "birthdate",
    "identity_verified",
    "proxy",
    "consent",
]
