"""Each compiled module's stub (core_ext/*.pyi) describes it exactly (mypy.stubtest)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

EXTENSIONS = [f"core_ext.{path.stem}" for path in sorted((ROOT / "core_ext").glob("*.pyx"))]


@pytest.mark.compiled
def test_stubs_match_the_compiled_modules() -> None:
    assert len(EXTENSIONS) == 4 and all((ROOT / (m.replace(".", "/") + ".pyi")).exists() for m in EXTENSIONS)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            *EXTENSIONS,
            "--allowlist",
            "core_ext/stubtest-allowlist.txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.compiled
@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("_codes", "NOT_FOUND"),
        ("_codes", "AUTH_VISUAL"),
        ("_text", "FNV_BASIS"),
        ("_build", "BIG_ID"),
        ("_build", "LONG_TEXT"),
    ],
)
def test_a_compiled_constant_that_drifted_from_its_home_is_refused(
    monkeypatch: pytest.MonkeyPatch, module: str, name: str
) -> None:
    import importlib

    from core_ext import _core

    _core._check_mirrors()  # the build as it is agrees
    home = importlib.import_module(f"core_ext.{module}")
    monkeypatch.setattr(home, name, getattr(home, name) + 1)
    with pytest.raises(RuntimeError, match=name):
        _core._check_mirrors()
