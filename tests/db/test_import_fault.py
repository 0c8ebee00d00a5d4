"""PostgreSQL stopped in the middle of `onshi import`: the previous data set stays, stored
and served (a throwaway cluster, crashed with `pg_ctl stop -m immediate` during the COPY)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.db.cluster import Cluster, available
from tests.db.conftest import query
from tests.db.server import ONSHI, Server
from tests.processes import assert_examples_pass

pytestmark = [pytest.mark.slow, pytest.mark.skipif(available() is not None, reason=str(available()))]


def _copying(url: str) -> bool:
    rows = query(url, "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'COPY %'")
    return bool(rows[0]["n"])


def test_an_import_cut_off_by_a_crash_leaves_the_previous_data_set(cluster: Cluster, tmp_path: Path) -> None:
    url = cluster.examples_database()
    before = {t: query(url, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("persons", "qualifications")}
    big = tmp_path / "big"
    subprocess.run(
        [str(ONSHI), "synth", "--members", "150000", "--out", str(big)], check=True, capture_output=True
    )

    importing = subprocess.Popen(
        [str(ONSHI), "import", str(big), "--database-url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not _copying(url):
        assert importing.poll() is None, importing.communicate()
        assert time.monotonic() < deadline, "the import never reached its COPY"
        time.sleep(0.02)
    cluster.stop("immediate")
    _, err = importing.communicate(timeout=60)
    assert importing.returncode != 0, err
    cluster.start()

    after = {t: query(url, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("persons", "qualifications")}
    assert after == before
    server = Server(url, tmp_path / "state").start()
    try:
        assert_examples_pass(server.url)
    finally:
        server.stop()
