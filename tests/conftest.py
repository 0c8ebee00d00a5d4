"""Shared fixtures: every core test runs against both implementations (ids `py` and `c`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

import core_ext

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent  # the checkout
SHARED = TESTS.parents[1] / "shared"
EXAMPLES = SHARED / "examples"


def examples_app() -> Any:
    """The application in process on the public examples (FastAPI + hot path, no access log file)."""
    from service.app import create_app
    from service.dataset import load_dir
    from service.settings import Settings
    from service.state import generation_of

    return create_app(
        Settings(data=str(EXAMPLES / "data")), generation_of(*load_dir(EXAMPLES / "data").build())
    )


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


def _compiled_built() -> bool:
    """The three extension modules `make install` builds together are importable."""
    try:
        from core_ext import _checkrows, _core, _stream  # type: ignore[attr-defined]  # noqa: F401
    except ImportError:
        return False
    return True


COMPILED_BUILT = _compiled_built()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/db `db`; skip `compiled` tests where the extension is not built."""
    not_built = pytest.mark.skip(reason="the compiled core is not built (make install builds it)")
    for item in items:
        if (TESTS / "db") in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.db)
        if not COMPILED_BUILT and item.get_closest_marker("compiled"):
            item.add_marker(not_built)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs to fill (mounting needs root)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
