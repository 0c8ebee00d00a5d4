"""Run benchmark commands and keep what they printed as dated JSON in bench/results/.

    python bench/record.py -- CMD [ARGS...] [--- CMD [ARGS...] ...]

Each command runs in turn (its output is shown as it comes); the record holds the commit,
whether the tree had uncommitted changes, the machine, and per command its argv, exit
status, seconds and output.  `make bench` writes one record per run; docs/performance.md
quotes the latest.  Not a test: nothing here asserts a figure.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SEPARATOR = "---"


def commands(argv: list[str]) -> list[list[str]]:
    """`-- a b --- c d` as [[a, b], [c, d]]."""
    if not argv or argv[0] != "--":
        raise SystemExit(__doc__)
    groups: list[list[str]] = [[]]
    for arg in argv[1:]:
        if arg == SEPARATOR:
            groups.append([])
        else:
            groups[-1].append(arg)
    return [g for g in groups if g]


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip()


def run(argv: list[str]) -> dict[str, object]:
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
    status = process.wait()
    return {
        "argv": argv,
        "status": status,
        "seconds": round(time.perf_counter() - started, 1),
        "output": "".join(lines),
    }


def main() -> int:
    started = datetime.now(UTC)
    runs = [run(argv) for argv in commands(sys.argv[1:])]
    record = {
        "started": started.isoformat(timespec="seconds"),
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{started:%Y-%m-%dT%H%M%SZ}.json"
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n")
    print(f"recorded in {path.relative_to(ROOT)}")
    return max(int(str(r["status"])) for r in runs)


if __name__ == "__main__":
    sys.exit(main())
