"""Damaged access-log files (a line torn by a crash, a malformed date, a line edited by
hand) with PostgreSQL: the whole records in them are saved, the rest set aside in
`access-log.quarantine` with a count, and the files after them are not held up."""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import pytest

from core_ext import access_line
from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import CARD_1

pytestmark = pytest.mark.slow
AT = "2026-12-03T10:00:00.000+09:00"


def _line(request_id: str) -> bytes:
    return access_line(AT, "2710000019", 0, 0, request_id, 1, 11)


def test_damaged_lines_are_set_aside_and_the_rest_saved(loaded: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    torn = _line("torn")[:25]
    (state / "access-log.sealed.00000000000000000001-1-1").write_bytes(
        _line("first")
        + torn
        + b"\n"
        + b"2026-13-45T99:00:00,2710000019,myna_card,VALID,bad-date,1,11\n"
        + _line("second")
    )
    (state / "access-log.sealed.00000000000000000002-1-1").write_bytes(_line("third"))
    server = Server(loaded, state).start()
    try:
        assert server.confirm(CARD_1, "live")[0] == 200
        deadline = time.monotonic() + 10
        wanted = {"first", "second", "third", "live"}
        while not wanted <= (
            saved := {r["request_id"] for r in query(loaded, "SELECT request_id FROM access_log")}
        ):
            assert time.monotonic() < deadline, saved
            time.sleep(0.2)
        assert saved == wanted
        quarantined = (state / "access-log.quarantine").read_bytes().splitlines()
        assert quarantined == [torn, b"2026-13-45T99:00:00,2710000019,myna_card,VALID,bad-date,1,11"]
        assert (state / "access-log.quarantine").stat().st_mode & 0o777 == 0o600
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as r:
            assert re.search(
                r'onshi_access_log_events_total\{event="quarantined_lines"\} 2\.0', r.read().decode()
            )
        assert not list(state.glob("access-log.sealed.*"))
    finally:
        server.stop()
