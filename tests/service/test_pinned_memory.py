"""What a client can make a worker hold or burn (issue #20, item 1): the memo of accepted
keys, the Authorization header's length, a body in many pieces, and a batch whose
ignored fields would decode to hundreds of megabytes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.testclient import TestClient

from service.dataset import load_dir
from service.hotpath import BATCH_LIMIT
from service.state import MAX_AUTHORIZATION, generation_of
from tests.conftest import EXAMPLES, examples_app
from tests.processes import CARD_1, CLINIC_CODE, CLINIC_KEY

CLINIC = {"Authorization": f"Bearer {CLINIC_KEY}", "Content-Type": "application/json"}


def test_spellings_of_one_key_are_accepted_without_filling_the_memo() -> None:
    gen = generation_of(*load_dir(EXAMPLES / "data").build())
    spellings = [
        f"{scheme} {CLINIC_KEY}{' ' * n}".encode() for n in range(200) for scheme in ("Bearer", "bearer")
    ]
    assert {gen.authorized(s) for s in spellings} == {CLINIC_CODE}
    assert gen.authorized(f"Bearer {CLINIC_KEY}".encode()) == CLINIC_CODE
    assert len(gen._accepted) == 1


def test_an_authorization_header_longer_than_the_limit_is_refused() -> None:
    gen = generation_of(*load_dir(EXAMPLES / "data").build())
    padded = f"Bearer {CLINIC_KEY}".encode().ljust(MAX_AUTHORIZATION + 1)
    assert gen.authorized(padded) is None
    assert gen.authorized(padded[:MAX_AUTHORIZATION]) == CLINIC_CODE


def test_a_batch_of_ignored_empty_objects_is_refused_before_decoding() -> None:
    body = {"institution_code": CLINIC_CODE, "items": [CARD_1], "pad": [{}] * 700_000}  # about 2.8 MB
    with TestClient(examples_app()) as client:
        answer = client.post("/v1/confirmations/batch", content=orjson.dumps(body), headers=CLINIC)
        assert answer.status_code == 413 and answer.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        del body["pad"]
        assert (
            client.post("/v1/confirmations/batch", content=orjson.dumps(body), headers=CLINIC).status_code
            == 200
        )


def test_a_batch_in_thousands_of_segments_costs_no_more_than_one() -> None:
    """8 MiB in 1,460-byte pieces: joined once (adding each piece to the last took seconds)."""
    item = orjson.dumps({**CARD_1, "symbol": "x" * 20})
    body = b'{"institution_code":"%s","items":[' % CLINIC_CODE.encode() + b",".join([item] * 9_999) + b"]}"
    body += b" " * (BATCH_LIMIT - len(body))  # 8 MiB: the most a batch may be
    pieces = [body[i : i + 1460] for i in range(0, len(body), 1460)]
    app = examples_app()
    sent: list[dict[str, Any]] = []

    async def run() -> float:
        queue = [
            {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
            for i, piece in enumerate(pieces)
        ]

        async def receive() -> dict[str, Any]:
            return queue.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/confirmations/batch",
            "headers": [
                (b"authorization", CLINIC["Authorization"].encode()),
                (b"content-type", b"application/json"),
            ],
        }
        started = time.process_time()
        await app(scope, receive, send)
        return time.process_time() - started

    cpu = asyncio.run(run())
    assert sent[0]["status"] == 200 and len(orjson.loads(sent[1]["body"])["results"]) == 9_999
    assert cpu < 0.5, f"{cpu:.2f} s of CPU for one 8 MiB batch"


def test_an_answer_without_memory_is_503_and_the_worker_goes_on() -> None:
    app = examples_app()

    class Exhausted:
        def confirm(self, *args: Any) -> Any:
            raise MemoryError

    gen = app.state.current
    real = gen.core
    with TestClient(app) as client:
        gen.core = Exhausted()
        try:
            answer = client.post(
                "/v1/confirmations",
                content=orjson.dumps({"institution_code": CLINIC_CODE, **CARD_1}),
                headers=CLINIC,
            )
        finally:
            gen.core = real
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "OVERLOADED"
        assert (
            client.post(
                "/v1/confirmations",
                content=orjson.dumps({"institution_code": CLINIC_CODE, **CARD_1}),
                headers=CLINIC,
            ).status_code
            == 200
        )
