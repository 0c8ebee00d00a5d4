"""The state directory's disk full: confirmations are refused until records can be written
again, and then nothing answered is missing (a 512 KiB tmpfs; needs root to mount)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.processes import confirm, fill, serve

pytestmark = pytest.mark.slow


def test_a_full_disk_refuses_then_recovers_without_losing_a_record(small_disk: Path, tmp_path: Path) -> None:
    served = serve(tmp_path, ["--data", str(EXAMPLES / "data")], 1, ONSHI_STATE_DIR=str(small_disk / "state"))
    try:
        answered = [f"before-{i}" for i in range(5) if confirm(served.url, f"before-{i}")[0] == 200]
        filler = small_disk / "filler"
        fill(filler)
        # The journal's last page may still have room for a few records.
        first_refused = next(i for i in range(200) if confirm(served.url, f"full-{i}")[0] == 503)
        answered += [f"full-{i}" for i in range(first_refused)]
        refused = [confirm(served.url, f"refused-{i}") for i in range(5)]
        assert {status for status, _ in refused} == {503}
        assert {answer["error"]["code"] for _, answer in refused} == {"ACCESS_LOG_UNAVAILABLE"}
        assert served.process.poll() is None  # still serving
        filler.unlink()
        after = [f"after-{i}" for i in range(5) if confirm(served.url, f"after-{i}")[0] == 200]
        assert len(after) == 5
        answered += after
    finally:
        served.kill_if_running()
    journal = (small_disk / "state" / "access-log.csv").read_text(encoding="utf-8")
    assert journal.endswith("\n")
    ids = [line.split(",")[4] for line in journal.splitlines()]
    assert all(len(line.split(",")) == 7 for line in journal.splitlines())  # whole lines only
    # Every answered one, in order; at most the refused record whose line the disk cut
    # in two is completed too (docs/decisions.md), never a later refused one.
    extra = [i for i in ids if i not in answered]
    assert [i for i in ids if i in answered] == answered
    assert len(extra) <= 1 and all(i == f"full-{first_refused}" for i in extra), extra
