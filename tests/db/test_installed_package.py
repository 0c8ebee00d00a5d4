"""The built wheel, installed with the locked dependencies into a fresh virtual environment
outside the source tree, migrates a database and serves the public examples."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.db.conftest import query
from tests.processes import assert_examples_pass, free_port, wait_ready


def run(*args: str | Path, cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a new environment holding the wheel and requirements.lock, nothing else."""
    tmp = tmp_path_factory.mktemp("installed")
    # In-tree, without build isolation: the build tools are this environment's, and the
    # objects `make install` compiled are reused.
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", tmp / "wheels", ROOT, cwd=ROOT)  # fmt: skip
    [wheel] = (tmp / "wheels").glob("onshi-*.whl")
    venv.create(tmp / "venv", with_pip=True)
    pip = tmp / "venv" / "bin" / "pip"
    run(pip, "install", "--quiet", "--require-hashes", "--no-deps", "-r", ROOT / "requirements.lock", cwd=tmp)
    run(pip, "install", "--quiet", "--no-deps", wheel, cwd=tmp)
    return tmp / "venv" / "bin"


def test_the_wheel_holds_every_module_and_no_sources(installed: Path) -> None:
    out = run(
        installed / "python",
        "-c",
        "import service, core_ext, service.db, service.routes, service.synth;"
        "print(service.__file__); print(core_ext.COMPILED)",
        cwd=installed,
    )
    where, compiled = out.split()
    assert where.startswith(str(installed.parent)) and compiled == "True"
    package = Path(where).parent.parent
    assert sorted(p.name for p in (package / "service" / "migrations").iterdir()) == sorted(
        p.name for p in (ROOT / "migrations").glob("*.sql")
    )
    assert not list((package / "core_ext").glob("*.c")) and not list((package / "core_ext").glob("*.pyx"))


def test_installed_onshi_migrates_and_serves_the_examples(installed: Path, empty_db: str) -> None:
    out = run(installed / "onshi", "migrate", "--database-url", empty_db, cwd=installed)
    applied = sorted(p.name for p in (ROOT / "migrations").glob("*.sql"))
    assert out.strip() == "applied: " + ", ".join(applied)
    assert [
        r["name"] for r in query(empty_db, "SELECT name FROM schema_migrations ORDER BY version")
    ] == applied

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(installed / "onshi"), "serve", "--data", str(EXAMPLES / "data"), "--port", str(port)],
        cwd=installed,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ONSHI_STATE_DIR": str(installed.parent / "state")},
    )
    try:
        wait_ready(url, process)
        assert_examples_pass(url)
    finally:
        process.terminate()
        assert process.wait(20) == 0
