"""This machine's dependent-load latency by working-set size (bench/memlat.c), rounds alternating.

    python bench/memlat.py [--sizes 1,2,4,8,12,24,48] [--rounds 3]

A confirmation's lookup is a chain of loads each of which needs the previous one's
value (slot, group, row, person, text), so once the snapshot outgrows the cache a
single call pays this latency once per link; a batch overlaps several items' chains
(Core._warm).  Builds the probe with the system C compiler.  Not a test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("memlat.c")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,2,4,8,12,24,48", help="working sets in MiB, comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        print("no C compiler (cc or gcc) found", file=sys.stderr)
        return 2
    sizes = [int(size) for size in args.sizes.split(",")]
    latencies: dict[int, list[float]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "memlat"
        subprocess.run([compiler, "-O2", "-o", str(probe), str(SOURCE)], check=True)
        for _ in range(args.rounds):
            out = subprocess.run([str(probe), *map(str, sizes)], capture_output=True, text=True, check=True)
            for line in out.stdout.splitlines():
                mib, nanoseconds, _ = line.split()
                latencies[int(mib)].append(float(nanoseconds))
    print(f"dependent loads, one per 64-byte line in a random cycle ({args.rounds} rounds, medians):")
    for size in sizes:
        print(f"  {size:5d} MiB: {statistics.median(latencies[size]):6.1f} ns per load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
