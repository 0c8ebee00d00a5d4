"""The real server: `onshi serve --data` passes the public examples; invalid data is never served."""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.processes import ONSHI, assert_examples_pass, free_port, serve

pytestmark = pytest.mark.slow  # real server processes


@pytest.fixture(params=[1, 2], ids=lambda n: f"workers={n}")
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """`onshi serve --data` on the examples, with one worker and with two worker processes."""
    served = serve(tmp_path, ["--data", str(EXAMPLES / "data")], request.param)
    try:
        yield served.url
    finally:
        served.process.terminate()
        served.process.wait(10)


def test_public_examples_pass(server: str) -> None:
    assert_examples_pass(server)


def test_invalid_data_exits_non_zero_with_every_problem(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for f in EXAMPLES.joinpath("data").iterdir():
        folder.joinpath(f.name).write_bytes(f.read_bytes())
    persons = folder / "persons.csv"
    persons.write_text(persons.read_text(encoding="utf-8") + "12,x,,9,1970-02-30\n", encoding="utf-8")
    port = free_port()
    result = subprocess.run(
        [str(ONSHI), "serve", "--data", str(folder), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "persons.csv:13: sex: must be one of 1, 2, 3" in result.stderr
    assert "persons.csv:13: birthdate: not a valid date (YYYY-MM-DD)" in result.stderr
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/healthz", timeout=1)
