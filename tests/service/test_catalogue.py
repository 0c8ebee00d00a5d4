"""The code catalogue: every code any answer carries is in it, once; docs/codes.md is derived
from it; GET /v1/codes serves it."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from core_ext import CODE_NAMES, OUTCOMES
from service import catalogue
from tests.conftest import ROOT, examples_app

# Where an error code is given: error_body("X", …), {"code": "X"}, _error("X", …), _error(status,
# "X", …), MessageError("X", …), the OQS error trees and the bridge's own failures, and
# constants `NAME = ("X", "…")`.
RAISED = re.compile(
    r"""(?:error_body\(\s*|_error\((?:\s*\d+,)?\s*|"code":\s*|=\s*\(\s*|MessageError\(\s*"""
    r"""|_fail\([^"]*?|_error_tree\([^"]*?)"([A-Z][A-Z_]{3,})",?"""
)
NOT_CODES = {"POST", "GET", "UTF", "VALID"}  # strings of that shape that are no error codes


def raised_codes() -> set[str]:
    found = set()
    for path in [*(ROOT / "service").rglob("*.py"), *(ROOT / "core_ext").glob("*.py*")]:
        found |= set(RAISED.findall(path.read_text()))
    return (
        found
        - NOT_CODES
        - set(CODE_NAMES)
        - {"CERTIFICATE_GRACE_PERIOD", "DOCUMENT_EXPIRES_SOON", "SNAPSHOT_STALE"}
    )


def test_every_decision_code_is_catalogued_in_the_cores_order() -> None:
    decisions = [e for e in catalogue.ENTRIES if e.kind == "decision"]
    assert [e.code for e in decisions] == list(CODE_NAMES)
    for entry, outcome in zip(decisions, OUTCOMES, strict=True):
        assert (entry.message, entry.qualification_validity) == (outcome.message, outcome.validity)
        assert entry.fhir["insurance.inforce"] == (outcome.eligible if outcome.discloses else None)


def test_every_error_code_raised_is_catalogued() -> None:
    raised = raised_codes()
    assert {
        "UNAUTHENTICATED",
        "VALIDATION_ERROR",
        "MALFORMED_XML",
        "BULK_NOT_FOUND",
    } <= raised  # the search works
    missing = raised - set(catalogue.ERRORS)
    assert not missing, f"codes answered but not in service/catalogue.py: {sorted(missing)}"


def test_codes_are_unique_and_complete() -> None:
    codes = [e.code for e in catalogue.ENTRIES]
    result_codes = [e.processing_result_code for e in catalogue.ENTRIES]
    assert len(set(codes)) == len(codes) and len(set(result_codes)) == len(result_codes)
    for entry in catalogue.ENTRIES:
        assert entry.message and entry.vendor_hint and re.fullmatch(r"ONS\d{3}", entry.processing_result_code)
        assert entry.message.isprintable() and entry.vendor_hint.isascii()


def test_docs_codes_md_is_derived_from_the_catalogue() -> None:
    assert (ROOT / "docs" / "codes.md").read_text() == catalogue.markdown(), (
        "docs/codes.md is stale: python -m service.catalogue > docs/codes.md"
    )


def test_get_codes() -> None:
    body = TestClient(examples_app()).get("/v1/codes").json()
    assert body["version"] == catalogue.VERSION
    assert [c["code"] for c in body["codes"]] == [e.code for e in catalogue.ENTRIES]
    assert body["codes"][0]["processing_result_code"] == "ONS000"
