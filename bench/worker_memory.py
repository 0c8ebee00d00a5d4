"""What a second worker adds to the memory of a server that follows PostgreSQL (issue #18).

Serves the database at URL with 1 and then 2 workers, with `--database-url` alone (one
worker writes the state directory's snapshot file, every worker maps it) and with
`--snapshot FILE --database-url URL` (FILE built first with `onshi snapshot build`),
waits until every worker has mapped its file and answered, then sums the proportional
set size (PSS) of the server and its workers.  Not a test.

    python bench/worker_memory.py URL [--admin-token T]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from floor import free_port  # noqa: E402
from memory import pss_bytes  # noqa: E402

ONSHI = Path(sys.executable).with_name("onshi")
MAPPED = " mapped in "  # the follower's log line once a worker has mapped its file


def measure(url: str, workers: int, state: Path, token: str, snapshot: Path | None) -> tuple[int, float]:
    """(PSS bytes, seconds until every worker had mapped its file and answered)."""
    port = free_port()
    log = state / f"serve-{workers}-{snapshot is not None}.log"
    state.mkdir(parents=True, exist_ok=True)
    args = [str(ONSHI), "serve", "--database-url", url, "--port", str(port), "--workers", str(workers)]
    if snapshot is not None:
        args += ["--snapshot", str(snapshot)]
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ONSHI_STATE_DIR": str(state), "ONSHI_ADMIN_TOKEN": token},
        )
    try:
        while log.read_text(errors="replace").count(MAPPED) < workers:
            if process.poll() is not None or time.monotonic() - started > 600:
                raise SystemExit(log.read_text(errors="replace")[-2000:])
            time.sleep(0.1)
        for _ in range(20 * workers):  # answered by every worker, most likely
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/snapshot", timeout=10) as r:
                r.read()
        seconds = time.monotonic() - started
        time.sleep(1)
        return pss_bytes(process.pid), seconds
    finally:
        process.terminate()
        process.wait(60)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--admin-token", default="bench-admin-token-" + "x" * 32)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        published = Path(tmp) / "published.snap"
        subprocess.run(
            [str(ONSHI), "snapshot", "build", "--database-url", args.url, "--out", str(published)], check=True
        )
        for name, snapshot in (("--database-url alone", None), ("--snapshot FILE --database-url", published)):
            pss = {}
            for workers in (1, 2):
                state = Path(tmp) / f"state-{workers}-{snapshot is not None}"
                pss[workers], seconds = measure(args.url, workers, state, args.admin_token, snapshot)
                mib = pss[workers] / 2**20
                print(f"{name}, {workers} worker(s): PSS {mib:,.1f} MiB, ready in {seconds:.1f} s")
            print(f"{name}: the second worker adds {(pss[2] - pss[1]) / 2**20:,.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
