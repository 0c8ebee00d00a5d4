"""The ASGI layers alone, in-process: Onshi's hot path vs the floor app, µs per request.

wrk measures uvicorn, the kernel and the app together; this drives only the apps'
`__call__` with a prepared scope and in-memory receive/send, on the same number-path
bodies, so the Python work Onshi adds over the floor shows on its own (and under
py-spy or callgrind without a server).  Alternating rounds, medians.  Not a test.

    python bench/asgi.py [--members 100000] [--count 50000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from service.app import create_app  # noqa: E402
from service.dataset import validate  # noqa: E402
from service.demo import DEMO_API_KEY, DEMO_INSTITUTION, demo_sources, number_path_request  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.state import generation_of  # noqa: E402

HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"authorization", f"Bearer {DEMO_API_KEY}".encode()),
    (b"content-type", b"application/json"),
]


def bodies_for(sources: dict[str, Any], count: int) -> list[bytes]:
    birth = {row["person_id"]: row["birthdate"] for _, row in sources["persons.csv"]}
    quals = [row for _, row in sources["qualifications.csv"]]
    rng = random.Random(5)
    return [
        orjson.dumps({"institution_code": DEMO_INSTITUTION, **number_path_request(q, birth[q["person_id"]])})
        for q in (rng.choice(quals) for _ in range(count))
    ]


async def drive(app: Callable[..., Any], bodies: list[bytes]) -> float:
    """Seconds per request through `app` (the body arrives in one message, as uvicorn sends it)."""
    sent = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent
        sent += 1

    started = time.perf_counter()
    for body in bodies:
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive(message: dict[str, Any] = message) -> dict[str, Any]:
            return message

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/confirmations",
            "headers": [*HEADERS, (b"content-length", str(len(body)).encode())],
        }
        await app(scope, receive, send)
    elapsed = time.perf_counter() - started
    assert sent == 2 * len(bodies), sent
    return elapsed / len(bodies)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--count", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sources = demo_sources(args.members)
    gen = generation_of(*validate(sources).build())
    bodies = bodies_for(sources, args.count)
    with tempfile.TemporaryDirectory() as tmp:
        floor_bodies = Path(tmp) / "bodies"
        floor_bodies.write_bytes(b"\n".join(bodies))
        os.environ["FLOOR_BODIES"] = str(floor_bodies)
        floor = importlib.import_module("floor_app").app
        onshi = create_app(Settings(data=tmp, state_dir=tmp), gen)
        apps = {"floor": floor, "onshi": onshi}
        loop = asyncio.new_event_loop()
        times: dict[str, list[float]] = {name: [] for name in apps}
        for _ in range(args.rounds):
            for name, app in apps.items():
                times[name].append(loop.run_until_complete(drive(app, bodies)))
        loop.close()
    med = {name: statistics.median(t) * 1e6 for name, t in times.items()}
    for name in apps:
        rounds = ", ".join(f"{t * 1e6:.2f}" for t in times[name])
        print(f"{name:6s} {med[name]:6.2f} µs/request (rounds: {rounds})")
    print(f"onshi - floor: {med['onshi'] - med['floor']:.2f} µs/request in the ASGI layer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
