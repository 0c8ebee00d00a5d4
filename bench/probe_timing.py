"""Does the time of an answer tell a hit from a miss, or an existing key from an unknown one?

    python bench/probe_timing.py [--rounds 9] [--requests 2000]

Serves the public examples with `onshi serve --data` (probing limits raised so that the
counting path runs without ever refusing), then sends, over one kept-alive connection,
a hit, a birthdate mismatch on an existing key and a miss on an unknown key, interleaved,
and prints the median time of each per round and the ratios to the hit's.  Not a test:
nothing here asserts a figure (a shared machine's timings are noisy; compare the ratios).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "examples" / "data"
KEY = "demo-key-clinic"


def body(number: str, birthdate: str) -> bytes:
    return json.dumps(
        {
            "institution_code": "2710000019",
            "presented": "unspecified",
            "insurer_number": "06270011",
            "symbol": "7-10",
            "number": number,
            "branch": "00",
            "birthdate": birthdate,
        }
    ).encode()


KINDS = {
    "hit": body("123", "1970-01-20"),
    "mismatch": body("123", "1970-01-21"),
    "unknown key": body("999999", "1970-01-20"),
}
EXPECTED = {"hit": "VALID", "mismatch": "NOT_FOUND", "unknown key": "NOT_FOUND"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--requests", type=int, default=2000, help="of each kind per round")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as state:
        port = 18000 + os.getpid() % 1000
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "onshi"), "serve", "--data", str(DATA), "--port", str(port)],
            env={
                **os.environ,
                "ONSHI_STATE_DIR": state,
                "ONSHI_MISS_LIMIT": "1000000000",
                "ONSHI_KEY_MISS_LIMIT": "1000000000",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for _ in range(100):
                try:
                    connection.request("GET", "/v1/readyz")
                    if connection.getresponse().read() and True:
                        break
                except OSError:
                    connection.close()
                    time.sleep(0.2)
            headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
            medians: dict[str, list[float]] = {kind: [] for kind in KINDS}
            for round_number in range(args.rounds):
                times: dict[str, list[float]] = {kind: [] for kind in KINDS}
                for _ in range(args.requests):
                    for kind, payload in KINDS.items():
                        started = time.perf_counter()
                        connection.request("POST", "/v1/confirmations", payload, headers)
                        answer = connection.getresponse().read()
                        times[kind].append(time.perf_counter() - started)
                        assert json.loads(answer)["code"] == EXPECTED[kind], answer
                for kind in KINDS:
                    medians[kind].append(statistics.median(times[kind]) * 1e6)
                print(
                    f"round {round_number + 1}: " + ", ".join(f"{k} {medians[k][-1]:.1f} µs" for k in KINDS)
                )
            hit = statistics.median(medians["hit"])
            print("median of the rounds' medians (µs, and the ratio to a hit):")
            for kind in KINDS:
                value = statistics.median(medians[kind])
                print(f"  {kind:12s} {value:7.1f}  {value / hit:.3f}")
        finally:
            server.terminate()
            server.wait(20)


if __name__ == "__main__":
    main()
