"""The HTTP floor: a raw ASGI app that parses the body with orjson and answers from a dict.

It does the least any JSON-over-HTTP eligibility service must do, so Onshi's rate is
reported as a fraction of this one's (bench/floor.py).  The answers come from the
same request bodies the benchmark sends, read from the file named by FLOOR_BODIES.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

HEADERS = [(b"content-type", b"application/json")]


def key_of(req: dict[str, Any]) -> tuple[Any, ...]:
    return (req.get("insurer_number"), req.get("symbol"), req.get("number"), req.get("birthdate"))


with open(os.environ["FLOOR_BODIES"], "rb") as f:
    ANSWERS = {
        key_of(orjson.loads(line)): {
            "eligible": True,
            "code": "VALID",
            "validity": 1,
            "qualification": orjson.loads(line),
        }
        for line in f
        if line.strip()
    }


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    try:
        answer = ANSWERS.get(key_of(orjson.loads(body)), {"code": "NOT_FOUND"})
    except (orjson.JSONDecodeError, AttributeError):
        answer = {"code": "MALFORMED_JSON"}
    payload = orjson.dumps(answer)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*HEADERS, (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
