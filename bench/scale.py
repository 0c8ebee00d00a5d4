"""The batch endpoint over HTTP (items/s for 10,000-item batches) and 1 vs 2 workers, with wrk.

    python bench/scale.py [--data DIR] [--seconds 6] [--rounds 2]

Serves the demo population (or DIR) with `onshi serve`; batches: `wrk -t1 -c2` posting
one 10,000-item number-path batch again and again; workers: `wrk -t2 -c64` on single
confirmations against one worker, then two, alternating.  Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from floor import LUA, free_port, number_path_bodies, population, wait_up, wrk  # noqa: E402

BATCH_LUA = """
local f = io.open("%(body)s", "rb")
local body = f:read("*a")
f:close()
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}
request = function()
  return wrk.format("POST", "/v1/confirmations/batch", headers, body)
end
"""


def serve(source: list[str], workers: int, state: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("onshi")), "serve", *source, "--port", str(port)]
        + ["--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ONSHI_STATE_DIR": str(state)},
    )
    wait_up(f"http://127.0.0.1:{port}/v1/readyz", ready_only=True)
    return process, port


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path)
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="onshi-scale-"))
    sources, institution, key = population(args.data)
    singles = number_path_bodies(sources, institution, 10_000)
    del sources
    (work / "bodies.jsonl").write_bytes(b"\n".join(singles[:1000]) + b"\n")
    items = [{k: v for k, v in orjson.loads(b).items() if k != "institution_code"} for b in singles]
    (work / "batch.json").write_bytes(orjson.dumps({"institution_code": institution, "items": items}))
    (work / "single.lua").write_text(LUA % {"bodies": work / "bodies.jsonl", "key": key})
    (work / "batch.lua").write_text(BATCH_LUA % {"body": work / "batch.json", "key": key})
    source = ["--data", str(args.data)] if args.data else ["--demo"]

    process, port = serve(source, 1, work / "state1")
    try:
        wrk(port, work / "batch.lua", 2, connections=2)  # warm-up
        rate, p50, p99 = wrk(port, work / "batch.lua", args.seconds, connections=2)
        print(
            f"batch: {rate * 10_000:,.0f} items/s ({rate:.1f} batches of 10,000/s, p50 {p50:.0f} ms)"
            "  (issue #5 bar: >= 300,000 items/s)",
            flush=True,
        )
    finally:
        process.terminate()
        process.wait(20)

    rates: dict[int, list[float]] = {1: [], 2: []}
    for round_no in range(args.rounds):
        for workers in (1, 2):
            process, port = serve(source, workers, work / f"state{workers}")
            try:
                wrk(port, work / "single.lua", 2, threads=2, connections=64)
                rate, _, p99 = wrk(port, work / "single.lua", args.seconds, threads=2, connections=64)
                rates[workers].append(rate)
                print(
                    f"round {round_no + 1} workers={workers}: {rate:,.0f} req/s (p99 {p99:.2f} ms)",
                    flush=True,
                )
            finally:
                process.terminate()
                process.wait(20)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(
        f"1 worker {one:,.0f} req/s, 2 workers {two:,.0f} req/s: {two / one:.2f}x"
        " (wrk -t2 -c64 shares the same 2 cores)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
