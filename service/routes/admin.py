"""Admin endpoints (CONTRACT.md §3): upserts into PostgreSQL and the per-person access log."""

from __future__ import annotations

import hmac
from typing import Any

import asyncpg
import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from core_ext import SnapshotFileError
from service.dataset import DataSetError
from service.db.pool import CONNECTION_ERRORS
from service.db.upserts import UpsertError, apply_upsert

router = APIRouter(prefix="/v1/admin", tags=["admin"])


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def _refused(request: Request) -> JSONResponse | None:
    """401 unless the request carries the admin token (compared in constant time)."""
    token = request.app.state.settings.admin_token
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
        return None
    return JSONResponse(
        {"error": {"code": "UNAUTHENTICATED", "message": "管理用トークンがないか、一致しません。"}},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


@router.post(
    "/upserts",
    responses={
        200: {"description": '`{"change_seq": N}`'},
        401: {"description": "UNAUTHENTICATED"},
        409: {"description": "READ_ONLY (served from files, no database)"},
        422: {"description": "VALIDATION_ERROR with every problem"},
        503: {"description": "DATABASE_UNAVAILABLE"},
    },
)
async def upserts(request: Request) -> JSONResponse:
    """Insert or update rows of any entity, validated like an import, in one transaction."""
    refused = _refused(request)  # first: without the token, not even the mode is disclosed
    if refused is not None:
        return refused
    settings = request.app.state.settings
    if settings.source != "database":
        return _error(
            409, "READ_ONLY", "ファイルから読み込んだデータは更新できません（データベース接続時のみ）。"
        )
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return _error(400, "MALFORMED_JSON", "リクエスト本文がJSONではありません。")
    try:
        async with request.app.state.database.connection() as conn:
            seq = await apply_upsert(conn, body)
    except UpsertError as exc:
        return _error(422, "VALIDATION_ERROR", "入力内容に誤りがあります。", problems=exc.problems)
    except CONNECTION_ERRORS:  # DatabaseUnavailable is one
        return _error(
            503,
            "DATABASE_UNAVAILABLE",
            "データベースに接続できません。しばらくしてから再度送信してください。",
        )
    return JSONResponse({"change_seq": seq})


ACCESS_LOG_LIMIT = 10_000  # records in one answer at most (the default is 100)
PERSON_ID_MAX = 2**63 - 1  # a bigint


def _whole_number(value: str | None, default: int, low: int, high: int) -> int | str:
    """The value as an int in [low, high], or the field code of what is wrong with it."""
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):
        return "FORMAT"
    significant = value.lstrip("0")
    if len(significant) > len(str(high)):  # never int() of a thousand digits
        return "RANGE"
    number = int(significant or "0")
    return number if low <= number <= high else "RANGE"


@router.get(
    "/persons/{person_id}/access-log",
    responses={
        401: {"description": "UNAUTHENTICATED"},
        422: {"description": "VALIDATION_ERROR naming person_id or limit"},
        503: {"description": "DATABASE_UNAVAILABLE"},
    },
)
async def access_log(
    request: Request,
    person_id: str,
    limit: str | None = Query(None, description=f"1 to {ACCESS_LOG_LIMIT:,}; default 100"),
) -> JSONResponse:
    """The confirmations that disclosed or looked up this person, newest first."""
    refused = _refused(request)
    if refused is not None:
        return refused
    # Checked here, not by FastAPI: its 422 has another shape than the contract's.
    person = _whole_number(person_id, 0, 1, PERSON_ID_MAX)
    count = _whole_number(limit, 100, 1, ACCESS_LOG_LIMIT)
    fields = [
        {"field": name, "code": value, "message": f"{name}{message}"}
        for name, value, message in (
            ("person_id", person, "は1以上の整数で指定してください。"),
            ("limit", count, f"は1から{ACCESS_LOG_LIMIT:,}までの整数で指定してください。"),
        )
        if isinstance(value, str)
    ]
    if fields:
        return _error(422, "VALIDATION_ERROR", "入力内容に誤りがあります。", fields=fields)
    assert isinstance(person, int) and isinstance(count, int)
    try:
        records = await request.app.state.access.for_person(person, count)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return _error(
            503,
            "DATABASE_UNAVAILABLE",
            "データベースに接続できません。しばらくしてから再度照会してください。",
        )
    return JSONResponse(records)


@router.post(
    "/reload",
    responses={
        200: {"description": "the new snapshot: version, persons, qualifications"},
        401: {"description": "UNAUTHENTICATED"},
        409: {"description": "NOT_RELOADABLE (a database source follows its changes itself)"},
        422: {"description": "RELOAD_FAILED: the source is invalid; the previous snapshot keeps serving"},
    },
)
async def reload(request: Request) -> JSONResponse:
    """Reload the file source (CSV folder or snapshot file) without a pause (also: SIGHUP)."""
    refused = _refused(request)
    if refused is not None:
        return refused
    reload = request.app.state.reload
    if reload is None:
        return _error(409, "NOT_RELOADABLE", "データベースの変更は自動で反映されます。再読み込みは不要です。")
    try:
        gen = await reload()
    except DataSetError as exc:
        return _error(422, "RELOAD_FAILED", "新しいデータに誤りがあります。", problems=exc.problems[:100])
    except SnapshotFileError as exc:
        return _error(422, "RELOAD_FAILED", "新しいスナップショットを読めません。", problems=[str(exc)])
    return JSONResponse(
        {"version": gen.version, "persons": gen.persons, "qualifications": gen.qualifications}
    )
