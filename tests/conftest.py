"""Shared fixtures: every core test runs against both implementations (ids `py` and `c`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

import core_ext

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SHARED = Path(__file__).resolve().parents[2] / "shared"
EXAMPLES = SHARED / "examples"


def pytest_report_header() -> list[str]:
    return [f"onshi core: compiled={core_ext.COMPILED}, implementations={sorted(core_ext.IMPLEMENTATIONS)}"]


@pytest.fixture(params=sorted(core_ext.IMPLEMENTATIONS), ids=lambda name: name)
def impl(request: pytest.FixtureRequest) -> str:
    """The name of one core implementation."""
    if os.environ.get("ONSHI_REQUIRE_COMPILED") and "c" not in core_ext.IMPLEMENTATIONS:
        pytest.fail("the compiled core is not built")
    return str(request.param)
