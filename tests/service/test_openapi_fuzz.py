"""schemathesis with every check against a running server: the confirmation routes with a
clinic key, the admin routes with the admin token, the operations routes without either.

A fixed seed and a bounded number of examples keep it repeatable (about 10 s); the
formats of our own get their values from tests/service/openapi_formats.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.processes import CLINIC_CODE, CLINIC_KEY, serve

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "openapi-fuzz-" + "a" * 32
SEED = "19"
EXAMPLES_PER_OPERATION = "100"
ALL = "all"
# The national messages, bulk jobs and the feed take bodies JSON Schema cannot make valid
# (an XmlMsg tree, a reception number that must exist): no 500, and every status, media
# type and header as declared, but no positive/negative acceptance checks.
DECLARED = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance"
RUNS = {
    "confirmations": ("^/v1/confirmations(/batch)?$", CLINIC_KEY, ALL),
    "admin": ("^/v1/admin", ADMIN_TOKEN, ALL),
    "operations": ("^/(metrics|v1/(healthz|readyz|snapshot|codes))$", None, ALL),
    "national": ("^/v1/(oqs|bulk|confirmations/feed)", CLINIC_KEY, DECLARED),
}


@pytest.mark.slow
@pytest.mark.parametrize("routes", sorted(RUNS))
def test_schemathesis_finds_nothing(tmp_path: Path, routes: str) -> None:
    served = serve(tmp_path, ["--data", str(EXAMPLES / "data")], 1, ONSHI_ADMIN_TOKEN=ADMIN_TOKEN)
    pattern, token, checks = RUNS[routes]
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{served.url}/openapi.json",
        "--checks",
        checks,
        "--seed",
        SEED,
        "--max-examples",
        EXAMPLES_PER_OPERATION,
        "--include-path-regex",
        pattern,
        "--no-color",
    ]
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.service.openapi_formats",
        "PYTHONPATH": str(ROOT),
        "ONSHI_FUZZ_INSTITUTION": CLINIC_CODE,
    }
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    finally:
        served.kill_if_running()
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, f"seed {SEED}:\n{report}"
    assert " passed" in result.stdout and "generated" in result.stdout, report
