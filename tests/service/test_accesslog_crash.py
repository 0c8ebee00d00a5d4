"""SIGKILL of every server process loses no record of an answered confirmation (--data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.processes import confirm, kill_tree, serve

pytestmark = pytest.mark.slow
COUNT = 300


def test_every_answered_confirmation_is_in_the_journal_after_sigkill(tmp_path: Path) -> None:
    served = serve(tmp_path, ["--data", str(EXAMPLES / "data")], 2)
    answered = []
    try:
        for i in range(COUNT):
            assert confirm(served.url, f"crash-{i}")[0] == 200
            answered.append(f"crash-{i}")
    finally:
        kill_tree(served.process.pid)
        served.process.wait(10)
    journal = (served.state / "access-log.csv").read_text(encoding="utf-8")
    ids = [line.split(",")[4] for line in journal.splitlines()]
    assert sorted(ids) == sorted(answered)
    assert (served.state / "access-log.csv").stat().st_mode & 0o777 == 0o600
