"""`Core.confirm` in-process: decisions per second and instructions per decision, Cython vs Python.

Builds the demo population (about 100,000 members), takes number-path and card-path
requests for random members, and times, for each core:
- single: `confirm(body)` per request (parse, validate, decide, answer JSON);
- batch: `confirm_batch` over 10,000 items (the per-item cost of the batch endpoint).
With --callgrind it runs itself under `valgrind --tool=callgrind` twice (N and 2N
confirmations) and reports instructions per confirmation from the difference, which
cancels start-up and set-up.  With --sweep it builds several populations and
alternates them, round by round, to show how the cost follows the population's size
(the same instructions; more cache misses).  Not a test; timings on a shared machine
are noisy.

    python bench/decide.py [--count 200000] [--members 100000] [--callgrind]
    python bench/decide.py --sweep 5000,100000,400000 [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import core_ext  # noqa: E402
from service.dataset import validate  # noqa: E402
from service.demo import DEMO_INSTITUTION, demo_sources, number_path_request  # noqa: E402
from service.state import generation_of  # noqa: E402

SNAPSHOT = b'{"version":"bench","applied_change_seq":0}'


def workload(count: int, members: int = 100_000) -> tuple[object, list[bytes], list[dict[str, object]], int]:
    sources = demo_sources(members)
    data = validate(sources)
    gen = generation_of(*data.build())
    birth = {row["person_id"]: row["birthdate"] for _, row in sources["persons.csv"]}
    quals = [row for _, row in sources["qualifications.csv"]]
    serials = [row["certificate_serial"] for _, row in sources["certificates.csv"]]
    rng = random.Random(11)
    items: list[dict[str, object]] = []
    for i in range(min(count, 20_000)):
        if i % 2:  # a member's own numbers and birthdate, as a reception desk sends them
            q = rng.choice(quals)
            items.append(number_path_request(q, birth[q["person_id"]]))
        else:
            serial = rng.choice(serials)
            items.append({"presented": "myna_card", "certificate_serial": serial, "auth_method": "face"})
    bodies = [orjson.dumps({"institution_code": DEMO_INSTITUTION, **item}) for item in items]
    day = (int(time.time()) + 9 * 3600) // 86400 + 719163  # today in Japan, as a day number
    return gen.core.data, bodies, items, day


def run_single(core: object, bodies: list[bytes], count: int, day: int) -> float:
    confirm = core.confirm  # type: ignore[attr-defined]
    n = len(bodies)
    started = time.perf_counter()
    for i in range(count):
        confirm(bodies[i % n], DEMO_INSTITUTION, day, "r", "2026-01-01T00:00:00.000+09:00", SNAPSHOT)
    return time.perf_counter() - started


def run_batch(core: object, items: list[dict[str, object]], count: int, day: int) -> float:
    confirm_batch = core.confirm_batch  # type: ignore[attr-defined]
    batch = orjson.dumps({"institution_code": DEMO_INSTITUTION, "items": items[:10_000]})
    rounds = max(1, count // 10_000)
    started = time.perf_counter()
    for _ in range(rounds):
        status, _answer = confirm_batch(batch, DEMO_INSTITUTION, day, "r", "t", SNAPSHOT)
        assert status == 200
    return (time.perf_counter() - started) / (rounds * min(10_000, len(items)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--members", type=int, default=100_000, help="demo population size")
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--impl", choices=["c", "py"], help="with --callgrind: only this core")
    ap.add_argument("--sweep", help="comma-separated population sizes: the Cython core on each, alternating")
    ap.add_argument("--rounds", type=int, default=5, help="with --sweep")
    ap.add_argument("--measure-only", choices=["c", "py"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sweep:
        return sweep([int(size) for size in args.sweep.split(",")], args.count, args.rounds)
    if args.callgrind:
        return callgrind(args.count, args.members, (args.impl,) if args.impl else ("c", "py"))
    data, bodies, items, day = workload(args.count, args.members)
    impls = {
        name: core_ext.IMPLEMENTATIONS[name](data) for name in ("c", "py") if name in core_ext.IMPLEMENTATIONS
    }
    if args.measure_only:
        run_single(impls[args.measure_only], bodies, args.count, day)
        return 0
    rates = {}
    for name, core in impls.items():
        count = args.count if name == "c" else max(2_000, args.count // 20)
        run_single(core, bodies, min(count, 2_000), day)  # warm-up
        single = run_single(core, bodies, count, day) / count
        per_item = run_batch(core, items, count, day)
        rates[name] = (1 / single, 1 / per_item)
        print(
            f"{name:3s} single: {1 / single:12,.0f} confirmations/s ({single * 1e6:.2f} µs)   "
            f"batch: {1 / per_item:12,.0f} items/s ({per_item * 1e6:.2f} µs)"
        )
    if "c" in rates and "py" in rates:
        print(
            f"Cython / Python: single {rates['c'][0] / rates['py'][0]:.1f}x, "
            f"batch {rates['c'][1] / rates['py'][1]:.1f}x   (issue #5 bars: >= 1,000,000/s, >= 10x)"
        )
    return 0


def sweep(sizes: list[int], count: int, rounds: int) -> int:
    cases = []
    for members in sizes:
        data, bodies, items, day = workload(count, members)
        cases.append((members, core_ext.IMPLEMENTATIONS["c"](data), bodies, items, day))
    single: dict[int, list[float]] = {members: [] for members in sizes}
    batch: dict[int, list[float]] = {members: [] for members in sizes}
    for _ in range(rounds):
        for members, core, bodies, items, day in cases:
            single[members].append(run_single(core, bodies, count, day) / count)
            batch[members].append(run_batch(core, items, count, day))
    base = statistics.median(single[sizes[0]])
    print(f"Cython core, {count:,} random confirmations per round, {rounds} alternating rounds (medians):")
    for members in sizes:
        one, per_item = statistics.median(single[members]), statistics.median(batch[members])
        print(
            f"{members:>10,} members: single {one * 1e6:5.2f} µs ({1 / one:10,.0f}/s, "
            f"{one / base:4.2f}x the first)   batch {per_item * 1e6:5.2f} µs/item ({1 / per_item:10,.0f}/s)"
        )
    return 0


def callgrind(count: int, members: int, impls: tuple[str, ...] = ("c", "py")) -> int:
    counts = {}
    for impl in impls:
        n = count if impl == "c" else max(1_000, count // 20)
        totals = []
        for k in (n, 2 * n):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "callgrind.out"
                result = subprocess.run(
                    [
                        "valgrind",
                        "--tool=callgrind",
                        f"--callgrind-out-file={out}",
                        sys.executable,
                        __file__,
                        "--count",
                        str(k),
                        "--members",
                        str(members),
                        "--measure-only",
                        impl,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    # Both runs hash strings alike: with random seeds the dicts of the set-up
                    # differ between them and the difference swung by over 1,000 instructions.
                    env={**os.environ, "PYTHONHASHSEED": "0"},
                )
                found = re.search(r"Collected : (\d+)", result.stderr)
                assert found is not None, result.stderr[-500:]
                totals.append(int(found.group(1)))
        counts[impl] = (totals[1] - totals[0]) / n
        print(
            f"{impl:3s} {counts[impl]:12,.0f} instructions per confirmation (callgrind, {n:,} vs {2 * n:,})"
        )
    if len(counts) == 2:
        print(f"Python / Cython instructions: {counts['py'] / counts['c']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
