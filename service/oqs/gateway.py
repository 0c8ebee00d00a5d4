"""The national messages over HTTP: POST /v1/oqs/<message>, and the JSON bulk API (/v1/bulk).

Each OQS message is answered in the form it came in: XML in the encoding its declaration
names (`Content-Type: application/xml` or `text/xml`), or the `{"XmlMsg": …}` JSON form
(`application/json`).  A message that cannot be answered (unreadable, refused, invalid)
gets `SegmentOfResult` 9 with `ErrorCode` (the catalogue's code) and `ErrorMessage`, and
the HTTP status the JSON API gives for the same failure.  Decisions are the hot path's
own (`HotPath._decide`): the access log, the rate and the probing limits apply as there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson
from starlette.types import Receive, Scope, Send

from core_ext import error_body
from service.admission import Admitted, Refused, admit, header, media_type
from service.bulk import CONFIRMATION, DONE, MAX_ITEMS, REGISTRATION, BulkRunner, Job, JobStore
from service.catalogue import BY_CODE
from service.db.pool import Database, DatabaseUnavailable
from service.hotpath import HotPath
from service.oqs import messages
from service.oqs.messages import SEGMENT_DONE, SEGMENT_FAILED, SEGMENT_WORKING
from service.oqs.xmltree import MessageError, Tree, parse_json, parse_xml, render_json, render_xml
from service.references import MAX_LENGTH, disclosed_persons, register

log = logging.getLogger("onshi.oqs")
OQS_PREFIX = "/v1/oqs/"
FEED_PATH = "/v1/confirmations/feed"
FEED_INSTITUTION_HEADER = b"x-onshi-institution"  # whose answers these are (the bridge's face files)
BULK_PATH = "/v1/bulk"
SINGLE_LIMIT = 64 * 1024
OQS_BULK_LIMIT = 64 * 1024 * 1024
BULK_LIMIT = 256 * 1024 * 1024
XML_TYPES = frozenset({b"application/xml", b"text/xml"})

INTERNAL = ("INTERNAL_ERROR", "内部エラーが発生しました。時間をおいて再度照会してください。")
UNKNOWN_MESSAGE = ("UNKNOWN_MESSAGE", "この電文には対応していません（docs/oqs.md）。")
BULK_NOT_FOUND = (
    "BULK_NOT_FOUND",
    "受付番号（ReceptionNumber）が見つかりません。受付から24時間を過ぎたか、他の医療機関等の番号です。",
)
FEED_OFF = ("FEED_NOT_ENABLED", "このサーバーでは資格確認結果の配信（ONSHI_FEED）が有効になっていません。")
READ_ONLY = (
    "READ_ONLY",
    "ファイルから配信中のため照会番号は登録できません（データベース接続時のみ）。",
)
DATABASE_UNAVAILABLE = (
    "DATABASE_UNAVAILABLE",
    "データベースに接続できないため照会番号を登録できません。しばらくしてから再度送ってください。",
)
REGISTRATION_UNIT = "ReferenceNumberRegistrationUnit"
MAX_REGISTRATIONS = 10_000
# A single registration's failures that refuse the message (the rest are results); the
# institution is checked before, and the body is Onshi's own.
REQUEST_ERRORS = {"RATE_LIMITED": 429}
UNSUPPORTED_MEDIA = (
    "UNSUPPORTED_MEDIA_TYPE",
    "Content-Typeはapplication/xml（またはtext/xml）かapplication/jsonにしてください。",
)


class Form:
    """How a message came, and so how it is answered: XML in a codec, or JSON."""

    def __init__(self, xml: bool, codec: str = "utf-8") -> None:
        self.xml = xml
        self.codec = codec

    def render(self, tree: Tree) -> tuple[bytes, bytes]:
        if self.xml:
            return render_xml(tree, self.codec), b"application/xml; charset=" + (
                b"Shift_JIS" if self.codec == "cp932" else b"UTF-8"
            )
        return render_json(tree), b"application/json"


# A handler's answer: (status, tree) or (status, tree, Retry-After seconds).
Reply = tuple[int, Tree] | tuple[int, Tree, int]
Handler = Callable[[Admitted, Tree, Form], Awaitable[Reply]]


class Gateway:
    """ASGI: /v1/oqs/<message> and /v1/bulk[/<id>]; mounted by HotPath."""

    def __init__(self, hot: HotPath, store: JobStore, database: Database | None = None) -> None:
        self.hot = hot
        self.store = store
        self.runner = BulkRunner(hot, store)
        self.database = database  # None: 照会番号 cannot be registered (409 READ_ONLY)
        self.handlers: dict[str, tuple[int, Handler]] = {
            "OQSsiquc01": (SINGLE_LIMIT, self._single),
            "OQSmuquc01": (OQS_BULK_LIMIT, self._bulk_accept),
            "OQSmuquc02": (SINGLE_LIMIT, self._bulk_results),
            "OQSsiimm01": (SINGLE_LIMIT, self._register),
            "OQSmuimm01": (OQS_BULK_LIMIT, self._register_bulk),
            "OQSmuimm02": (SINGLE_LIMIT, self._register_results),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        if path.startswith(OQS_PREFIX):
            status = await self._oqs(scope, receive, send, path[len(OQS_PREFIX) :])
            endpoint = path if path[len(OQS_PREFIX) :] in self.handlers else OQS_PREFIX
        elif path == FEED_PATH:
            status = await self._feed(scope, receive, send)
            endpoint = FEED_PATH
        else:
            status = await self._bulk(scope, receive, send, path)
            endpoint = BULK_PATH
        self.hot.metrics.observe(endpoint, status, time.perf_counter() - started)

    # --- the national messages -------------------------------------------------------

    async def _oqs(self, scope: Scope, receive: Receive, send: Send, name: str) -> int:
        handler = self.handlers.get(name) if scope["method"] == "POST" else None
        limit = handler[0] if handler else SINGLE_LIMIT
        admitted = await admit(self.hot, scope, receive, limit)
        kind = media_type(header(scope, b"content-type") or b"")
        form = Form(kind != b"application/json")
        if isinstance(admitted, Refused):
            if admitted.status == 499:
                return 499
            error = orjson.loads(admitted.payload)["error"]
            return await self._answer_error(
                send,
                admitted.status,
                form,
                {},
                (error["code"], error["message"]),
                admitted.request_id,
                admitted.retry_after,
            )
        if handler is None:
            return await self._answer_error(send, 404, form, {}, UNKNOWN_MESSAGE, admitted.request_id)
        if kind not in XML_TYPES and kind != b"application/json":
            return await self._answer_error(send, 415, form, {}, UNSUPPORTED_MEDIA, admitted.request_id)
        try:
            if form.xml:
                tree, codec = parse_xml(admitted.body)
                form = Form(True, codec)
            else:
                tree = parse_json(admitted.body)
        except MessageError as error:
            return await self._answer_error(
                send, 400, form, {}, (error.code, error.message), admitted.request_id
            )
        try:
            status, answer, *retry_after = await handler[1](admitted, tree, form)
        except Exception:
            # A bug must not become a dropped connection: answered, as the hot path does.
            log.exception("OQS message failed", extra={"request_id": admitted.request_id})
            return await self._answer_error(send, 500, form, tree, INTERNAL, admitted.request_id)
        return await self._send(send, status, form, answer, admitted.request_id, *retry_after)

    async def _single(self, admitted: Admitted, tree: Tree, form: Form) -> Reply:
        found = messages.searches(tree)
        if len(found) != 1:
            return 422, self._error_tree(
                tree, form, "VALIDATION_ERROR", "QualificationConfirmSearchInfoを1件送ってください。"
            )
        item = messages.search_item(found[0])
        body = orjson.dumps({**messages.header_fields(tree), **item})
        status, raw, retry_after = self.hot._decide(
            admitted.gen, body, False, admitted.institution, admitted.request_id
        )
        answer = orjson.loads(raw)
        if status != 200:
            error = answer.get("error", {})
            code = error.get("code", "INTERNAL_ERROR")
            return status, self._error_tree(tree, form, code, messages.error_text(answer)), retry_after
        consent = item["consent"]["limit_info"]
        return 200, {
            "MessageHeader": messages.response_header(
                tree, form.codec, messages.execution_time(answer["checked_at"]), SEGMENT_DONE
            ),
            "MessageBody": {
                "QualificationConfirmSearchInfo": found[0],
                **messages.result_fields(answer, consent),
            },
        }

    async def _bulk_accept(self, admitted: Admitted, tree: Tree, form: Form) -> tuple[int, Tree]:
        found = messages.searches(tree)
        if not found or len(found) > MAX_ITEMS:
            return 422, self._error_tree(
                tree,
                form,
                "VALIDATION_ERROR",
                f"QualificationConfirmSearchInfoを1件から{MAX_ITEMS:,}件送ってください。",
            )
        common = {**messages.header_fields(tree), "institution_code": admitted.institution}
        mismatch = self._institution_mismatch(tree, admitted, form)
        if mismatch is not None:
            return 403, mismatch
        # The search as sent rides along (ignored by the core) to be echoed in the answer.
        items = [{**messages.search_item(info), "oqs_search": info} for info in found]
        job = await self.store.create(admitted.institution, common, items, admitted.request_id)
        self.runner.start(job)
        return 200, self._accepted(tree, form, job)

    async def _bulk_results(self, admitted: Admitted, tree: Tree, form: Form) -> tuple[int, Tree]:
        number = messages.text_of(tree.get("MessageBody"), "ReceptionNumber") or ""
        job = await self.store.find(admitted.institution, number.strip())
        if job is None or job.kind != CONFIRMATION:
            return 404, self._error_tree(tree, form, *BULK_NOT_FOUND)
        executed = messages.execution_time_now()
        if job.status != DONE:
            self.runner.start(job)  # taken up here if its worker stopped
            return 200, {
                "MessageHeader": messages.response_header(tree, form.codec, executed, SEGMENT_WORKING),
                "MessageBody": {"ReceptionNumber": job.id},
            }
        units = self._bulk_units(await self.store.items(job), await self.store.results(job))
        return 200, self._counted(tree, form, job, "BulkConfirmUnit", units)

    # --- 照会番号 (ReferenceNumber) ----------------------------------------------------

    async def _register(self, admitted: Admitted, tree: Tree, form: Form) -> tuple[int, Tree]:
        """OQSsiimm01: register a clinic's patient id for the person a search finds."""
        if self.database is None:
            return 409, self._error_tree(tree, form, *READ_ONLY)
        body = tree.get("MessageBody")
        found = messages.searches(tree)
        if len(found) != 1:
            return 422, self._error_tree(
                tree, form, "VALIDATION_ERROR", "QualificationConfirmSearchInfoを1件送ってください。"
            )
        mismatch = self._institution_mismatch(tree, admitted, form)
        if mismatch is not None:
            return 403, mismatch
        unit = {
            "QualificationConfirmSearchInfo": found[0],
            "ReferenceNumber": messages.text_of(body, "ReferenceNumber"),
        }
        outcome = await self._registrations(admitted, tree, [unit])
        if isinstance(outcome, tuple):
            return outcome[0], self._error_tree(tree, form, *outcome[1])
        result = outcome[0]
        if result.get("error") and result["error"]["code"] in REQUEST_ERRORS:
            return REQUEST_ERRORS[result["error"]["code"]], self._error_tree(
                tree, form, result["error"]["code"], messages.error_text(result)
            )
        return 200, {
            "MessageHeader": messages.response_header(
                tree, form.codec, messages.execution_time_now(), SEGMENT_DONE
            ),
            "MessageBody": registration_unit(unit, result),
        }

    async def _register_bulk(self, admitted: Admitted, tree: Tree, form: Form) -> tuple[int, Tree]:
        """OQSmuimm01: many registrations, decided at once; their results kept for OQSmuimm02."""
        if self.database is None:
            return 409, self._error_tree(tree, form, *READ_ONLY)
        body = tree.get("MessageBody")
        units = body.get(REGISTRATION_UNIT) if isinstance(body, dict) else None
        units = [units] if isinstance(units, dict) else units
        if not isinstance(units, list) or not 1 <= len(units) <= MAX_REGISTRATIONS:
            return 422, self._error_tree(
                tree,
                form,
                "VALIDATION_ERROR",
                f"{REGISTRATION_UNIT}を1件から{MAX_REGISTRATIONS:,}件送ってください。",
            )
        mismatch = self._institution_mismatch(tree, admitted, form)
        if mismatch is not None:
            return 403, mismatch
        outcome = await self._registrations(admitted, tree, units)
        if isinstance(outcome, tuple):
            return outcome[0], self._error_tree(tree, form, *outcome[1])
        items = [
            registration_unit(unit if isinstance(unit, dict) else {}, result)
            for unit, result in zip(units, outcome, strict=True)
        ]
        job = await self.store.create_done(admitted.institution, items, admitted.request_id, REGISTRATION)
        return 200, self._accepted(tree, form, job)

    async def _register_results(self, admitted: Admitted, tree: Tree, form: Form) -> tuple[int, Tree]:
        """OQSmuimm02: the results of an OQSmuimm01, to its institution only."""
        number = messages.text_of(tree.get("MessageBody"), "ReceptionNumber") or ""
        job = await self.store.find(admitted.institution, number.strip())
        if job is None or job.kind != REGISTRATION:
            return 404, self._error_tree(tree, form, *BULK_NOT_FOUND)
        units = await self.store.results(job)
        return 200, self._counted(tree, form, job, REGISTRATION_UNIT, [{REGISTRATION_UNIT: u} for u in units])

    async def _registrations(
        self, admitted: Admitted, tree: Tree, units: list[Any]
    ) -> list[dict[str, Any]] | tuple[int, tuple[str, str]]:
        """Find each unit's person as a confirmation does, then store the numbers in one
        transaction: a result per unit (`{"person_id"}` or `{"error"}`), or a refusal."""
        assert self.database is not None
        common = {**messages.header_fields(tree), "institution_code": admitted.institution}
        results: list[dict[str, Any]] = []
        for unit in units:
            info = unit.get("QualificationConfirmSearchInfo") if isinstance(unit, dict) else None
            number = messages.text_of(unit, "ReferenceNumber")
            if number is not None:
                number = number.strip()
            if not number or len(number) > MAX_LENGTH or not number.isprintable():
                message = (
                    f"ReferenceNumber（照会番号）は1～{MAX_LENGTH}文字で、制御文字を含めないでください。"
                )
                results.append({"error": {"code": "VALIDATION_ERROR", "message": message}})
                continue
            body = orjson.dumps({**common, **messages.search_item(info)})
            records: list[bytes] = []
            status, raw, _ = self.hot._decide(
                admitted.gen, body, False, admitted.institution, admitted.request_id, records
            )
            answer = orjson.loads(raw)
            if status != 200:
                results.append(answer)
                continue
            persons = disclosed_persons(records[0]) if records else []
            if not persons:
                results.append({"error": {"code": answer["code"], "message": answer["message"]}})
                continue
            results.append({"person_id": persons[0], "reference_number": number, "code": answer["code"]})
        stored = [r for r in results if "person_id" in r]
        if stored:
            try:
                async with self.database.connection() as conn, conn.transaction():
                    for r in stored:
                        await register(conn, admitted.institution, r["person_id"], r["reference_number"])
            except (DatabaseUnavailable, OSError, asyncpg.PostgresError):
                return 503, DATABASE_UNAVAILABLE
            for r in stored:  # this worker at once; the others when they follow the change
                self.hot.state.references.put(admitted.institution, r["person_id"], r["reference_number"])
        return results

    def _accepted(self, request: Tree, form: Form, job: Job) -> Tree:
        """The answer to a bulk message: its ReceptionNumber, for the second phase."""
        executed = messages.execution_time_now()
        return {
            "MessageHeader": messages.response_header(request, form.codec, executed, SEGMENT_DONE),
            "MessageBody": {"ReceptionNumber": job.id},
        }

    def _counted(self, request: Tree, form: Form, job: Job, unit: str, units: list[Tree]) -> Tree:
        """The second phase's answer: the counts, then one `unit` each."""
        normal = sum(1 for u in units if u[unit]["ProcessingResultStatus"] == messages.STATUS_NORMAL)
        executed = messages.execution_time_now()
        return {
            "MessageHeader": messages.response_header(request, form.codec, executed, SEGMENT_DONE),
            "MessageBody": {
                "ReceptionNumber": job.id,
                "NumberOfProcessingResult": str(len(units)),
                "NumberOfNormalProcessing": str(normal),
                "NumberOfError": str(len(units) - normal),
                "ResultList": units,
            },
        }

    def _bulk_units(self, items: list[Any], results: list[Any]) -> list[Tree]:
        units = []
        for item, result in zip(items, results, strict=True):
            consent = bool(item.get("consent", {}).get("limit_info"))
            units.append(
                {
                    "BulkConfirmUnit": {
                        "QualificationConfirmSearchInfo": item.get("oqs_search"),
                        **messages.result_fields(result, consent),
                    }
                }
            )
        return units

    def _institution_mismatch(self, tree: Tree, admitted: Admitted, form: Form) -> Tree | None:
        given = messages.text_of(tree.get("MessageHeader"), "MedicalInstitutionCode")
        if given == admitted.institution:
            return None
        code, message = (
            "INSTITUTION_MISMATCH",
            "医療機関等コード（MedicalInstitutionCode）がAPIキーの医療機関と一致しません。",
        )
        return self._error_tree(tree, form, code, message)

    def _error_tree(self, request: Tree, form: Form, code: str, message: str) -> Tree:
        return {
            "MessageHeader": messages.response_header(
                request, form.codec, messages.execution_time_now(), SEGMENT_FAILED, (code, message)
            )
        }

    async def _answer_error(
        self,
        send: Send,
        status: int,
        form: Form,
        request: Tree,
        error: tuple[str, str],
        rid: str,
        retry_after: int = 0,
    ) -> int:
        return await self._send(send, status, form, self._error_tree(request, form, *error), rid, retry_after)

    async def _send(
        self, send: Send, status: int, form: Form, tree: Tree, rid: str, retry_after: int = 0
    ) -> int:
        body, content_type = form.render(tree)
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", rid.encode()),
        ]
        if retry_after:
            headers.append((b"retry-after", str(retry_after).encode()))
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status

    # --- the feed of card-path answers (service/feed.py) ------------------------------------

    async def _feed(self, scope: Scope, receive: Receive, send: Send) -> int:
        """GET /v1/confirmations/feed: server-sent events, resumed from Last-Event-ID."""
        feed = self.hot.feed
        if scope["method"] != "GET":
            return await _json(send, 405, error_body("METHOD_NOT_ALLOWED", "GETで接続してください。"), "")
        admitted = await admit(self.hot, scope, receive, 0, read_body=False)
        if isinstance(admitted, Refused):
            return await _json(
                send, admitted.status, admitted.payload, admitted.request_id, admitted.retry_after
            )
        if feed is None:
            return await _json(send, 404, error_body(*FEED_OFF), admitted.request_id)
        last = header(scope, b"last-event-id")
        day, offset = feed.start_of(admitted.institution, None if last is None else last.decode("latin-1"))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                    (FEED_INSTITUTION_HEADER, admitted.institution.encode()),
                    (b"x-request-id", admitted.request_id.encode()),
                ],
            }
        )
        gone = asyncio.Event()

        async def watch() -> None:  # the client closing, or this server stopping
            while not self.hot.state.stopping:
                try:
                    message = await asyncio.wait_for(receive(), 0.5)
                except TimeoutError:
                    continue
                if message["type"] == "http.disconnect":
                    break
            gone.set()

        watcher = asyncio.ensure_future(watch())
        try:
            await send({"type": "http.response.body", "body": b"retry: 1000\n\n", "more_body": True})
            async for event in feed.follow(admitted.institution, day, offset, gone):
                if event is None:
                    chunk = b": keep-alive\n\n"
                else:
                    chunk = (
                        b"id: " + event[0].encode() + b"\nevent: confirmation\ndata: " + event[1] + b"\n\n"
                    )
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except OSError:
            pass  # the client went away mid-send
        finally:
            watcher.cancel()
        return 200

    # --- the JSON bulk API -------------------------------------------------------------

    async def _bulk(self, scope: Scope, receive: Receive, send: Send, path: str) -> int:
        method = scope["method"]
        job_id = path[len(BULK_PATH) + 1 :] if path.startswith(BULK_PATH + "/") else None
        if (path == BULK_PATH and method == "POST") or (job_id and method == "GET"):
            admitted = await admit(self.hot, scope, receive, BULK_LIMIT, read_body=job_id is None)
        else:
            return await _json(
                send,
                404 if path != BULK_PATH else 405,
                error_body("UNKNOWN_PATH", "そのURLはありません。"),
                "",
            )
        if isinstance(admitted, Refused):
            if admitted.status == 499:
                return 499
            return await _json(
                send, admitted.status, admitted.payload, admitted.request_id, admitted.retry_after
            )
        if job_id is None:
            return await self._bulk_post(send, admitted)
        job = await self.store.find(admitted.institution, job_id)
        if job is None or job.kind != CONFIRMATION:
            return await _json(send, 404, error_body(*BULK_NOT_FOUND), admitted.request_id)
        if job.status != DONE:
            self.runner.start(job)  # taken up here if its worker stopped
            return await _json(send, 202, orjson.dumps(_job_status(job)), admitted.request_id, 1)
        return await self._send_results(send, job, admitted.request_id)

    async def _bulk_post(self, send: Send, admitted: Admitted) -> int:
        rid = admitted.request_id
        if media_type(admitted.content_type) != b"application/json":
            return await _json(
                send,
                415,
                error_body("UNSUPPORTED_MEDIA_TYPE", "Content-Typeはapplication/jsonにしてください。"),
                rid,
            )
        try:
            document = await asyncio.to_thread(orjson.loads, admitted.body)
        except orjson.JSONDecodeError:
            document = None
        if not isinstance(document, dict):
            return await _json(
                send,
                400,
                error_body("MALFORMED_JSON", "リクエスト本文がJSONオブジェクトではありません。"),
                rid,
            )
        items = document.get("items")
        problem = None
        if not isinstance(items, list):
            problem = (
                "items",
                "REQUIRED" if items is None else "FORMAT",
                "items（照会項目の配列）がありません。",
            )
        elif not 1 <= len(items) <= MAX_ITEMS:
            if items:
                return await _json(
                    send,
                    413,
                    error_body("PAYLOAD_TOO_LARGE", f"一括照会（/v1/bulk）は{MAX_ITEMS:,}件までです。"),
                    rid,
                )
            problem = ("items", "LENGTH", "items が空です。")
        elif document.get("institution_code") is None:
            problem = ("institution_code", "REQUIRED", "医療機関等コード（institution_code）がありません。")
        if problem is not None:
            field, code, message = problem
            body = orjson.dumps(
                {
                    "error": {
                        "code": "VALIDATION_ERROR",
                        "message": message,
                        "fields": [{"field": field, "code": code, "message": message}],
                    }
                }
            )
            return await _json(send, 422, body, rid)
        if document["institution_code"] != admitted.institution:
            return await _json(
                send,
                403,
                error_body(
                    "INSTITUTION_MISMATCH",
                    "医療機関等コード（institution_code）がAPIキーの医療機関と一致しません。",
                ),
                rid,
            )
        assert isinstance(items, list)  # (refused above otherwise)
        common = {"institution_code": admitted.institution}
        if "confirmation_date" in document:
            common["confirmation_date"] = document["confirmation_date"]
        job = await self.store.create(admitted.institution, common, items, rid)
        self.runner.start(job)
        return await _json(send, 202, orjson.dumps(_job_status(job)), rid, location=f"{BULK_PATH}/{job.id}")

    async def _send_results(self, send: Send, job: Job, rid: str) -> int:
        headers = [(b"content-type", b"application/x-ndjson"), (b"x-request-id", rid.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async for chunk in self.store.results_bytes(job):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return 200


def registration_unit(unit: dict[str, Any], result: dict[str, Any]) -> Tree:
    """The answer to one registration: the search and number echoed, then the result."""
    out: Tree = {
        "QualificationConfirmSearchInfo": unit.get("QualificationConfirmSearchInfo"),
        "ReferenceNumber": messages.text_of(unit, "ReferenceNumber"),
    }
    if "person_id" in result:
        out["ProcessingResultStatus"] = messages.STATUS_NORMAL
        return out
    error = result.get("error", {})
    code = error.get("code", "VALIDATION_ERROR")
    out["ProcessingResultStatus"] = messages.STATUS_ERROR
    out["ProcessingResultCode"] = BY_CODE[code].processing_result_code if code in BY_CODE else None
    out["ProcessingResultMessage"] = (
        messages.error_text(result) if error.get("fields") else error.get("message")
    )
    return out


def _job_status(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "items": job.items,
        "processed": job.processed,
        "accepted_at": job.accepted_at,
        "expires_at": job.expires_at,
    }


async def _json(
    send: Send, status: int, body: bytes, rid: str, retry_after: int = 0, location: str | None = None
) -> int:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if rid:
        headers.append((b"x-request-id", rid.encode()))
    if retry_after:
        headers.append((b"retry-after", str(retry_after).encode()))
    if location:
        headers.append((b"location", location.encode()))
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status
