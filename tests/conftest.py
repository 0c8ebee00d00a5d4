"""Shared fixtures: every core test runs against both implementations (ids `py` and `c`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """With ONSHI_NO_SKIPS=1 (.ci/run) a skipped test fails: CI must have run everything."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("ONSHI_NO_SKIPS") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, and ONSHI_NO_SKIPS is set: {report.longrepr}"
