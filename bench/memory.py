"""Memory and start-up of `onshi serve --snapshot` (issue #4): bytes per qualification.

Serves FILE and a tiny snapshot (the public examples) the same way (`--workers N`),
times each start until /v1/readyz answers, sends a few confirmations, then sums the
proportional set size (PSS, /proc/PID/smaps_rollup) of the server and its workers.
Bytes per qualification = (PSS of FILE's server - PSS of the tiny server) / qualifications.

    python bench/memory.py FILE [--workers 2]
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

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from floor import free_port  # noqa: E402


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    out = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            out += tree(int(child))
    return out


def pss_bytes(pid: int) -> int:
    total = 0
    for p in tree(pid):
        for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
    return total


def serve(snapshot: Path, workers: int, state: Path) -> tuple[subprocess.Popen[bytes], int, float]:
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("onshi")), "serve", "--snapshot", str(snapshot)]
        + ["--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ONSHI_STATE_DIR": str(state)},
    )
    ready = 0
    while ready < workers * 3:  # several answers in a row: every worker is likely up
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/readyz", timeout=1):
                ready += 1
        except OSError:
            ready = 0
            time.sleep(0.02)
        if time.monotonic() - started > 120:
            raise SystemExit("server did not become ready")
    return process, port, time.monotonic() - started


def facts(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/snapshot", timeout=5) as r:
        return orjson.loads(r.read())  # type: ignore[no-any-return]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="onshi-mem-"))
    tiny = work / "tiny.snap"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("onshi")),
            "snapshot",
            "build",
            "--data",
            str(ROOT.parent / "shared" / "examples" / "data"),
            "--out",
            str(tiny),
        ],
        check=True,
        capture_output=True,
    )
    results = {}
    for name, path in (("tiny", tiny), ("file", args.file)):
        process, port, seconds = serve(path, args.workers, work / name)
        try:
            time.sleep(1.0)
            results[name] = (pss_bytes(process.pid), seconds, facts(port))
        finally:
            process.terminate()
            process.wait(30)
    (tiny_pss, tiny_s, _), (file_pss, file_s, snap) = results["tiny"], results["file"]
    quals = snap["qualifications"]
    print(f"workers: {args.workers}; file: {args.file} ({args.file.stat().st_size / 1e6:,.1f} MB)")
    print(f"tiny server: PSS {tiny_pss / 1e6:,.1f} MB, ready in {tiny_s:.2f} s")
    print(f"file server: PSS {file_pss / 1e6:,.1f} MB, ready in {file_s:.2f} s")
    print(
        f"{snap['persons']:,} persons, {quals:,} qualifications: "
        f"{(file_pss - tiny_pss) / quals:.1f} bytes per qualification (issue #4 bar: <= 100, goal 64)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
