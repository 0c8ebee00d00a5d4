"""A bulk job end to end on a real one-worker demo server: `POST /v1/bulk` of N items, the
time to accept it, then to decide it and fetch the NDJSON, and single confirmations'
latency meanwhile (one every 5 ms) against the same before it.  Not a test.

    python bench/bulk.py N
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from asgi import bodies_for  # noqa: E402

from service.demo import DEMO_API_KEY, DEMO_INSTITUTION, demo_sources  # noqa: E402
from tests.processes import serve  # noqa: E402

MEMBERS = 100_000
HEADERS = {"Authorization": f"Bearer {DEMO_API_KEY}", "Content-Type": "application/json"}


def call(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=HEADERS)
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.status, response.read()


def main() -> int:
    count = int(sys.argv[1])
    items = [orjson.loads(body) for body in bodies_for(demo_sources(MEMBERS), 20_000)]
    for item in items:
        item.pop("institution_code", None)
    items = (items * (count // len(items) + 1))[:count]
    body = orjson.dumps({"institution_code": DEMO_INSTITUTION, "items": items})
    single = orjson.dumps({**items[0], "institution_code": DEMO_INSTITUTION})
    served = serve(
        Path(tempfile.mkdtemp()),
        ["--demo"],
        1,
        ONSHI_MISS_LIMIT="0",
        ONSHI_KEY_MISS_LIMIT="0",
        ONSHI_DEMO_MEMBERS=str(MEMBERS),
    )
    latencies: dict[str, list[float]] = {"idle": [], "bulk": []}
    phase, stop = ["idle"], threading.Event()

    def ping() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            call(served.url + "/v1/confirmations", single)
            latencies[phase[0]].append(time.perf_counter() - started)
            time.sleep(0.005)

    pinger = threading.Thread(target=ping)
    try:
        pinger.start()
        time.sleep(2)
        phase[0] = "bulk"
        started = time.perf_counter()
        job = orjson.loads(call(served.url + "/v1/bulk", body)[1])
        accepted = time.perf_counter()
        while (answer := call(f"{served.url}/v1/bulk/{job['id']}"))[0] != 200:
            time.sleep(0.2)
        done = time.perf_counter()
        phase[0] = "idle"
    finally:
        stop.set()
        pinger.join()
        served.kill_if_running()
    results = answer[1]
    lines = results.count(b"\n")
    print(
        f"{count} items, body {len(body) / 1e6:.1f} MB: accepted in {accepted - started:.2f} s, decided and "
        f"fetched in {done - accepted:.2f} s ({count / (done - accepted):,.0f} items/s), "
        f"{lines} result lines, {len(results) / 1e6:.1f} MB"
    )
    for name, seconds in latencies.items():
        seconds.sort()
        median, p99 = seconds[len(seconds) // 2], seconds[int(len(seconds) * 0.99)]
        print(
            f"single confirmations, {name}: {len(seconds)}, median {median * 1e3:.1f} ms, "
            f"p99 {p99 * 1e3:.1f} ms, max {seconds[-1] * 1e3:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
