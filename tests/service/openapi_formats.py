"""schemathesis hooks for the formats service/openapi.py defines (each one what the
validator accepts, which JSON Schema cannot spell):

- values for them, so that schema-valid requests are the ones the server accepts;
- their real check, so that a "negative" request whose only fault is one of these
  formats but whose value the validator accepts is not sent as invalid (schemathesis
  takes any value of a format it cannot check as a violation of it);
- the document as one clinic sees it: its own institution code, so that valid requests
  are decided (200) rather than refused as another institution's (403).

Loaded by tests/service/test_openapi_fuzz.py through SCHEMATHESIS_HOOKS.
"""

from __future__ import annotations

import copy
import os
import string
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import jsonschema_rs
import schemathesis
from hypothesis import strategies as st
from schemathesis.core import NOT_SET

from core_ext import (
    NUMBER_MAX,
    SYMBOL_MAX,
    insurer_check_digit,
    normalise_branch,
    normalise_insurer_number,
    normalise_number,
    normalise_symbol,
    parse_day,
)
from service.clock import tokyo_today
from service.openapi import FORMATS, INSTITUTION_CODE

VISIBLE_ASCII = "".join(ch for ch in string.printable if ch.isprintable() and ch != " ")
TODAY = date.fromordinal(tokyo_today())
FIRST_DAY, LAST_DAY = date(2000, 1, 1), TODAY + timedelta(days=365)  # a day's margin for midnight


def _with_check_digit(body: str) -> str:
    return body + str(insurer_check_digit(body))


def _normalises(normalise: Callable[[str], tuple[Any, str | None]]) -> Callable[[str], bool]:
    return lambda value: normalise(value)[1] is None


def _confirmation_day(value: str) -> bool:
    day = parse_day(value)
    return day is not None and FIRST_DAY.toordinal() <= day <= LAST_DAY.toordinal()


six = st.from_regex(r"\A[0-9]{5}\Z").map(_with_check_digit)
eight = st.from_regex(r"\A[1-9][0-9]{6}\Z|\A0[1-9][0-9]{5}\Z").map(_with_check_digit)
VALUES = {
    "insurer-number": six | eight | six.map(lambda value: "00" + value),
    "insurer-symbol": st.text(VISIBLE_ASCII, max_size=SYMBOL_MAX),
    "insurer-card-number": st.text(VISIBLE_ASCII, min_size=1, max_size=NUMBER_MAX),
    "branch": st.from_regex(r"\A[0-9]{2}\Z") | st.just(""),
    "confirmation-date": st.dates(FIRST_DAY, LAST_DAY).map(date.isoformat),
}
CHECKS = {
    "insurer-number": _normalises(normalise_insurer_number),
    "insurer-symbol": _normalises(normalise_symbol),
    "insurer-card-number": _normalises(normalise_number),
    "branch": _normalises(normalise_branch),
    "confirmation-date": _confirmation_day,
}
assert VALUES.keys() == CHECKS.keys() == FORMATS.keys()
for name, values in VALUES.items():
    schemathesis.openapi.format(name, values)

_bodies: dict[str, Any] = {}  # path -> a validator of its request body


@schemathesis.hook
def before_load_schema(context: schemathesis.HookContext, raw_schema: dict[str, Any]) -> None:
    institution = os.environ.get("ONSHI_FUZZ_INSTITUTION")
    if institution:
        _pin(raw_schema, institution)
    for path, methods in raw_schema.get("paths", {}).items():
        body = methods.get("post", {}).get("requestBody", {}).get("content", {}).get("application/json")
        if body and "$ref" not in str(body["schema"]):
            schema = copy.deepcopy(body["schema"])
            _bodies[path] = jsonschema_rs.Draft202012Validator(schema, formats=CHECKS, validate_formats=True)


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    """Keep a negative case only if its body really is invalid (our formats checked)."""
    validator = _bodies.get(case.operation.path)
    if validator is None or case.meta is None or isinstance(case.body, (bytes, type(NOT_SET))):
        return True  # no body, or one sent as raw bytes (another media type)
    if case.meta.generation.mode != schemathesis.GenerationMode.NEGATIVE:
        return True
    return not validator.is_valid(case.body)


def _pin(node: Any, institution: str) -> None:
    if isinstance(node, dict):
        if node.get("pattern") == INSTITUTION_CODE["pattern"]:
            node["const"] = institution
        for value in node.values():
            _pin(value, institution)
    elif isinstance(node, list):
        for value in node:
            _pin(value, institution)
