"""The thin ASGI layer that answers confirmations before FastAPI's router sees them.

Everything else (ops, metrics, docs) goes to the FastAPI app behind it.  Checks run
in the order CONTRACT.md §2 fixes: 503 (nothing loaded), 401, 429 (rate, before the
body), 413, 415, then the core's 400, 422, 403, then 429 (number-path misses,
service/probing.py).  Two come from elsewhere: 403 for a client certificate of another
institution right after 401 (service/tls.py: a connection's, known before any body),
and 413 for a batch of too many JSON objects, before it is decoded.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core_ext import MAX_BATCH_ITEMS, REQUEST_ID_PATTERN, error_body
from service.accesslog import AccessLog
from service.clock import tokyo_now
from service.feed import Feed
from service.metrics import REFUSALS, RequestMetrics
from service.probing import HOUR, MISS_LINE, ProbeGuard
from service.ratelimit import RateLimiter
from service.references import with_reference_numbers
from service.state import Generation, ServiceState
from service.tls import CLIENT_CERTIFICATE

SINGLE_PATH = "/v1/confirmations"
BATCH_PATH = "/v1/confirmations/batch"
SINGLE_LIMIT = 64 * 1024
BATCH_LIMIT = 8 * 1024 * 1024
# Objects and arrays in a batch body at most: an item is an object with one more (its
# consent), and a symbol or a number may hold a few brackets of its own.
BATCH_CONTAINERS = 64 * MAX_BATCH_ITEMS
GATEWAY_PATHS = ("/v1/oqs/", "/v1/bulk", "/v1/confirmations/feed")
# What a card-path decision's access record holds (core_ext/_logline.py: the presented field).
CARD_PATH_RECORD = b",myna_card,"
REQUEST_ID = re.compile(REQUEST_ID_PATTERN.encode())
# Routes measured under their own name; anything else is "other" (bounded label set).
KNOWN_PATHS = frozenset({"/v1/healthz", "/v1/readyz", "/v1/snapshot", "/metrics", "/docs", "/openapi.json"})

log = logging.getLogger("onshi.hotpath")


UNAUTHENTICATED = error_body("UNAUTHENTICATED", "APIキーがないか、登録されていません。")
TOO_LARGE = error_body("PAYLOAD_TOO_LARGE", "リクエスト本文が大きすぎます（単件は64KiB、一括は8MiBまで）。")
TOO_MANY_CONTAINERS = error_body(
    "PAYLOAD_TOO_LARGE",
    "一括照会の本文にJSONのオブジェクトや配列が多すぎます（照会項目以外は送らないでください）。",
)
UNSUPPORTED_MEDIA = error_body("UNSUPPORTED_MEDIA_TYPE", "Content-Typeはapplication/jsonにしてください。")
RATE_LIMITED = error_body(
    "RATE_LIMITED", "照会の回数が上限を超えました。Retry-Afterの秒数が過ぎてから再度照会してください。"
)
LOG_UNWRITABLE = error_body(
    "ACCESS_LOG_UNAVAILABLE",
    "照会記録を保存できないため、回答できません。しばらくしてから再度照会してください。",
)
CERTIFICATE_MISMATCH = error_body(
    "INSTITUTION_MISMATCH", "クライアント証明書の医療機関等コードがAPIキーの医療機関等と一致しません。"
)
NOT_READY = error_body("NOT_READY", "データを読み込み中です。しばらくしてから再度照会してください。")
OUT_OF_MEMORY = error_body(
    "OVERLOADED", "サーバーのメモリが不足しているため回答できません。しばらくしてから再度照会してください。"
)
INTERNAL = error_body("INTERNAL_ERROR", "内部エラーが発生しました。時間をおいて再度照会してください。")


def _is_json(content_type: bytes | None) -> bool:
    if content_type == b"application/json":  # what nearly every client sends
        return True
    if content_type is None:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json"


class HotPath:
    """ASGI app: confirmations here, everything else to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        state: ServiceState,
        metrics: RequestMetrics,
        access: AccessLog | None = None,
        limiter: RateLimiter | None = None,
        guard: ProbeGuard | None = None,
    ) -> None:
        self.app = app
        self.state = state
        self.metrics = metrics
        self.access = access  # None: confirmations are not recorded (in-process tests only)
        self.limiter = limiter  # None: no rate limits
        self.guard = guard  # None: number-path misses are not limited
        # The routes beside this one (service/oqs/gateway.py): national messages, bulk jobs.
        self.gateway: ASGIApp | None = None
        self.feed: Feed | None = None  # card-path answers to their institutions' feeds (ONSHI_FEED)
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(6).hex()

    def fresh_request_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    def begin_stopping(self) -> None:
        """A stop has begun: /v1/readyz answers 503; confirmations are still answered."""
        self.state.stopping = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            if path == SINGLE_PATH:
                return await self._confirm(scope, receive, send, False)
            if path == BATCH_PATH:
                return await self._confirm(scope, receive, send, True)
        if scope["type"] == "http" and self.gateway is not None and scope["path"].startswith(GATEWAY_PATHS):
            return await self.gateway(scope, receive, send)
        if scope["type"] == "websocket":
            # Onshi speaks no WebSocket: refused before FastAPI (or anything) sees it.
            return await send({"type": "websocket.close", "code": 1008})
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        await self._measured(scope, receive, send)

    async def _measured(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Delegate to FastAPI, counting the answer under its route."""
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            endpoint = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
            self.metrics.observe(endpoint, status, time.perf_counter() - started)

    async def _confirm(self, scope: Scope, receive: Receive, send: Send, batch: bool) -> None:
        started = time.perf_counter()
        auth = content_type = request_id = length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value
            elif name == b"content-type":
                content_type = value
            elif name == b"x-request-id":
                request_id = value
            elif name == b"content-length":
                length = value
        if request_id is not None and REQUEST_ID.fullmatch(request_id):
            rid = request_id.decode()
        else:
            rid = f"{self._id_prefix}-{next(self._ids)}"  # decimal: no format spec to parse
        gen = self.state.current
        institution = None if gen is None or auth is None else gen.authorized(auth)
        limit = BATCH_LIMIT if batch else SINGLE_LIMIT
        retry_after = 0
        if gen is None:  # no keys to check yet either: nothing can be answered
            status, payload = 503, NOT_READY
        elif institution is None:
            status, payload = 401, UNAUTHENTICATED
        elif (
            "extensions" in scope
            and (certified := scope["extensions"].get(CLIENT_CERTIFICATE))
            and (certified["institution"] != institution)
        ):
            status, payload = 403, CERTIFICATE_MISMATCH  # a client certificate of another (service/tls.py)
        elif (limiter := self.limiter) is not None and (
            (limiter.engaged or institution in gen.rate_limits)
            and (retry_after := limiter.admit(institution, None, gen.rate_limits.get(institution)))
        ):
            status, payload = 429, RATE_LIMITED  # before the body is read
        elif length is not None and len(length) > 4 and length.isdigit() and int(length) > limit:
            # (up to 4 digits is always within both limits: no int() for nearly every request)
            status, payload = 413, TOO_LARGE
        else:
            # Read the body inline: one coroutine per request is measurable at this rate.
            message = await receive()
            body = message.get("body", b"")
            if message.get("more_body", False):
                # In pieces: gathered and joined once (adding each to the last would copy
                # the body again per piece: seconds of CPU for 8 MiB in 1,460-byte segments).
                pieces, size = [body], len(body)
                while message.get("more_body", False) and size <= limit:
                    message = await receive()
                    pieces.append(piece := message.get("body", b""))
                    size += len(piece)
                body = b"".join(pieces) if size <= limit else b""
                received = size
            else:
                received = len(body)
            if message["type"] != "http.request":
                return  # the client went away; nobody is left to answer
            if received > limit:
                status, payload = 413, TOO_LARGE
            elif batch and body.count(b"{") + body.count(b"[") > BATCH_CONTAINERS:
                # Decoded, this many objects and arrays would take far more memory than
                # any batch needs (`"pad": [{}, {}, …]` is ignored, but decoded first).
                status, payload = 413, TOO_MANY_CONTAINERS
            elif not _is_json(content_type):
                status, payload = 415, UNSUPPORTED_MEDIA
            else:
                status, payload, retry_after = self._decide(gen, body, batch, institution, rid)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"x-request-id", rid.encode()),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        elif retry_after:
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        self.metrics.observe(BATCH_PATH if batch else SINGLE_PATH, status, time.perf_counter() - started)

    def _decide(
        self,
        gen: Generation,
        body: bytes,
        batch: bool,
        institution: str,
        rid: str,
        records: list[bytes] | None = None,
    ) -> tuple[int, bytes, int]:
        """Hand the raw body to the core; never let a bug become a dropped connection.

        `records`, when given, receives the access records the decision wrote (the routes
        beside this one learn from them which person an answer disclosed).

        (status, answer, Retry-After seconds or 0)."""
        today, checked_at = tokyo_now()
        state = self.state
        stale = state.stale_after is not None and state.stale(time.time())
        # The core appends each decision's record to the access log's buffer itself (the
        # probing limits read them too, so they get a buffer of their own without a log).
        access, guard = self.access, self.guard
        pending = access.pending if access is not None else None if guard is None else bytearray()
        decide = gen.core.confirm_batch if batch else gen.core.confirm
        before = 0 if pending is None else len(pending)
        try:
            status, answer = decide(
                body, institution, today, rid, checked_at, gen.snapshot_json, stale, pending
            )
        except MemoryError:
            # The answer could not be built (the core's buffers grow as answers need): the
            # worker lives on, and the client may ask again.
            log.error("confirmation not answered: out of memory", extra={"request_id": rid})
            REFUSALS["out_of_memory"] += 1
            return 503, OUT_OF_MEMORY, 0
        except Exception:
            log.exception("confirmation failed", extra={"request_id": rid})
            return 500, INTERNAL, 0
        if pending is None or len(pending) == before:
            return status, answer, 0  # nothing decided (400, 422, 403), or nothing recorded
        if guard is not None:
            # guard.quiet, inline: on every request, and a call would cost as much again.
            now = time.time()
            at = guard.clock_at.get(institution)
            clocks = guard.clocks
            if (
                at is None
                or clocks[at] - HOUR > now
                or clocks[at + 1] > now
                or pending.find(MISS_LINE, before) >= 0
            ) and (retry_after := guard.review(institution, answer, pending, before, now)):
                del pending[before:]  # refused: nothing was disclosed, so nothing is recorded
                return 429, RATE_LIMITED, retry_after
        if records is not None:
            records.append(bytes(pending[before:]))
        references = state.references
        if references and institution in references:  # 照会番号 of this institution (service/references.py)
            answer = with_reference_numbers(answer, pending[before:], references[institution], batch)
        if access is None:
            return status, answer, 0
        if batch and self.limiter is not None:
            # The batch's items are counted by the records it added to the access log:
            # one per decided item (an item refused by validation decides nothing).
            self.limiter.charge_items(institution, pending.count(b"\n", before))
        if not batch and not access.unwritable:
            access.persist_soon()  # on disk before this answer leaves, with the turn's others
        elif not access.persist():
            # Nothing is disclosed that the access log cannot record (docs/decisions.md).
            access.forget(len(pending) - before)
            REFUSALS["access_log_unwritable"] += 1
            return 503, LOG_UNWRITABLE, 0
        if self.feed is not None and not batch and pending.find(CARD_PATH_RECORD, before) >= 0:
            self._to_feed(institution, answer)
        return status, answer, 0

    def _to_feed(self, institution: str, answer: bytes) -> None:
        """A card-path answer to its institution's feed (service/feed.py); never fails the answer."""
        assert self.feed is not None
        try:
            self.feed.append(institution, answer)
        except OSError:
            log.exception("feed: an answer could not be added")
