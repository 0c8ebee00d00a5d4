"""PostgreSQL crashed (`pg_ctl stop -m immediate`) in the middle of an upsert: the client
is told it failed (503, never a 500 or a hang), nothing of it is stored, and once the
database is back the same upsert goes through whole (a throwaway cluster)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.db.cluster import Cluster, available
from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import CARD_1, CLINIC_CODE, CLINIC_KEY, http

pytestmark = [pytest.mark.slow, pytest.mark.skipif(available() is not None, reason=str(available()))]
ROWS = 100_000  # service/db/upserts.MAX_ROWS: long enough to be caught in the middle
FIRST_ID = 10_000_000


def _writing(url: str) -> bool:
    rows = query(url, "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'INSERT INTO persons%'")
    return bool(rows[0]["n"])


def test_an_upsert_cut_off_by_a_crash_is_all_or_nothing(cluster: Cluster, tmp_path: Path) -> None:
    url = cluster.examples_database()
    persons_before = query(url, "SELECT count(*) AS n FROM persons")[0]["n"]
    seq_before = query(url, "SELECT coalesce(max(seq), 0) AS s FROM change_log")[0]["s"]
    body = {
        "persons": [
            {
                "person_id": FIRST_ID + i,
                "name": "試験 一郎",
                "name_kana": "シケン イチロウ",
                "sex": 1,
                "birthdate": "1980-01-01",
            }
            for i in range(ROWS)
        ]
    }
    server = Server(url, tmp_path / "state").start()
    answer: dict[str, Any] = {}
    try:
        sender = threading.Thread(target=lambda: answer.update(result=server.upsert(body, timeout=120)))
        sender.start()
        deadline = time.monotonic() + 120
        while not _writing(url):
            assert sender.is_alive(), answer
            assert time.monotonic() < deadline, "the upsert never reached its INSERT"
            time.sleep(0.01)
        cluster.stop("immediate")
        sender.join(60)
        assert not sender.is_alive(), "the upsert never answered"
        status, error = answer["result"]
        assert status == 503 and error["error"]["code"] == "DATABASE_UNAVAILABLE", answer
        # Confirmations go on from the snapshot meanwhile.
        headers = {"Authorization": f"Bearer {CLINIC_KEY}", "Content-Type": "application/json"}
        assert (
            http(f"{server.url}/v1/confirmations", {"institution_code": CLINIC_CODE, **CARD_1}, headers)[0]
            == 200
        )
        cluster.start()
        assert query(url, "SELECT count(*) AS n FROM persons")[0]["n"] == persons_before
        assert query(url, "SELECT coalesce(max(seq), 0) AS s FROM change_log")[0]["s"] == seq_before
        deadline = time.monotonic() + 30
        while (result := server.upsert(body, timeout=120))[0] == 503:  # the pool reconnects
            assert time.monotonic() < deadline, result
            time.sleep(0.5)
        assert result[0] == 200, result
        assert query(url, "SELECT count(*) AS n FROM persons")[0]["n"] == persons_before + ROWS
    finally:
        server.stop()
