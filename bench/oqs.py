"""The national interface's cost, in-process: OQSsiquc01 (XML in UTF-8 and Shift_JIS, and the
XmlMsg JSON form) against the JSON API on the same searches, µs per request through the
ASGI app (no server, no network).  Alternating rounds, medians, ratios to JSON.  Not a test.

    python bench/oqs.py [--members 20000] [--count 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from asgi import HEADERS, bodies_for  # noqa: E402

from service.app import create_app  # noqa: E402
from service.dataset import validate  # noqa: E402
from service.demo import demo_sources  # noqa: E402
from service.oqs.xmltree import render_json, render_xml  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.state import generation_of  # noqa: E402


def oqs_tree(body: bytes) -> dict[str, Any]:
    r = orjson.loads(body)
    info = {
        "InsurerNumber": r["insurer_number"].rjust(8),
        "InsuredCardSymbol": r.get("symbol") or None,
        "InsuredIdentificationNumber": r["number"],
        "Birthdate": r["birthdate"].replace("-", ""),
        "LimitApplicationCertificateRelatedConsFlg": "0",
    }
    header = {"MedicalInstitutionCode": r["institution_code"]}
    return {"MessageHeader": header, "MessageBody": {"QualificationConfirmSearchInfo": info}}


async def drive(app: Any, path: str, content_type: bytes, bodies: list[bytes]) -> float:
    statuses: set[int] = set()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    headers = [h for h in HEADERS if h[0] != b"content-type"] + [(b"content-type", content_type)]
    started = time.perf_counter()
    for body in bodies:
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive(message: dict[str, Any] = message) -> dict[str, Any]:
            return message

        scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
        await app(scope, receive, send)
    elapsed = (time.perf_counter() - started) / len(bodies)
    assert statuses == {200}, statuses
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=20_000)
    ap.add_argument("--count", type=int, default=5_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sources = demo_sources(args.members)
    gen = generation_of(*validate(sources).build())
    bodies = bodies_for(sources, args.count)
    trees = [oqs_tree(b) for b in bodies]
    kinds = {
        "json": ("/v1/confirmations", b"application/json", bodies),
        "oqs-utf8": ("/v1/oqs/OQSsiquc01", b"application/xml", [render_xml(t, "utf-8") for t in trees]),
        "oqs-sjis": ("/v1/oqs/OQSsiquc01", b"application/xml", [render_xml(t, "cp932") for t in trees]),
        "oqs-json": ("/v1/oqs/OQSsiquc01", b"application/json", [render_json(t) for t in trees]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        # No probing limits: the demo's random searches are not what they guard against.
        app = create_app(Settings(data=tmp, state_dir=tmp, miss_limit=0, key_miss_limit=0), gen)
        loop = asyncio.new_event_loop()
        times: dict[str, list[float]] = {name: [] for name in kinds}
        for _ in range(args.rounds):
            for name, (path, content_type, payloads) in kinds.items():
                times[name].append(loop.run_until_complete(drive(app, path, content_type, payloads)))
        loop.close()
    med = {name: statistics.median(t) * 1e6 for name, t in times.items()}
    for name in kinds:
        print(f"{name:9s} {med[name]:7.2f} µs/request  {med[name] / med['json']:5.2f}x json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
