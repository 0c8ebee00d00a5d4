"""A throwaway PostgreSQL 15 cluster the test can stop and restart (outage tests), and a
streaming standby of one (`standby_of`: pg_basebackup -R; replication from 127.0.0.1 is
trusted by initdb's default pg_hba.conf, and wal_level is replica by default).

initdb and pg_ctl refuse to run as root, so they run as the postgres user, with the
data directory in a fresh directory that user owns.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.db.server import free_port

BIN = Path(os.environ.get("ONSHI_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def available() -> str | None:
    """Why a throwaway cluster cannot be made here, or None when it can."""
    if not (BIN / "initdb").exists():
        return f"no initdb under {BIN}"
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return "needs root and runuser to run initdb as the postgres user"
    return None


class Cluster:
    def __init__(self) -> None:
        self.primary: Cluster | None = None  # set on a standby
        self.root = Path(tempfile.mkdtemp(prefix="onshi-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        shutil.chown(self.root, "postgres", "postgres")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120
        )

    def init(self) -> Cluster:
        self._as_postgres(
            str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """`immediate`: as a crash (no checkpoint; recovery at the next start)."""
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def examples_database(self) -> str:
        """A database `onshi` on this cluster with the public examples imported; its URL."""
        from tests.conftest import EXAMPLES
        from tests.processes import ONSHI

        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "onshi"], check=True
        )
        url = self.url.rsplit("/", 1)[0] + "/onshi"
        done = subprocess.run(
            [str(ONSHI), "import", str(EXAMPLES / "data"), "--database-url", url], capture_output=True
        )
        assert done.returncode == 0, done.stderr
        return url

    def remove(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def standby_of(primary: Cluster) -> Cluster:
    """A hot standby streaming from `primary` (running), started."""
    standby = Cluster()
    standby._as_postgres(
        str(BIN / "pg_basebackup"),
        "-h",
        "127.0.0.1",
        "-p",
        str(primary.port),
        "-U",
        "postgres",
        "-D",
        str(standby.data),
        "-R",
        "-X",
        "stream",
        "-c",
        "fast",  # checkpoint now: a spread one made the backup wait 100 s
    )
    standby.primary = primary
    standby.start()
    return standby
