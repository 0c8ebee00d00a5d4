"""Validate one decoded confirmation request (CONTRACT.md §2, RULES.md §2).

The authority on what a request means: the pure-Python core uses it for every
request, the compiled core for every request its ASCII fast path does not take.
It returns either a `Parsed` request or the list of field errors of a 422.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from ._codes import AUTH_METHODS, INFO_NOTICE, MYNA_CARD, PRESENTED
from ._text import (
    CHECK_DIGIT,
    FORMAT,
    LENGTH,
    is_institution_code,
    normalise_branch,
    normalise_insurer_number,
    normalise_number,
    normalise_serial,
    normalise_symbol,
    parse_day,
)

REQUIRED = "REQUIRED"
RANGE = "RANGE"
FIRST_DAY = parse_day("2000-01-01") or 0
DAYS_AHEAD = 366

LABELS = {
    "institution_code": "医療機関等コード",
    "confirmation_date": "資格確認日",
    "presented": "提示書類",
    "certificate_serial": "電子証明書のシリアル番号",
    "auth_method": "本人確認の方法",
    "identity_verified": "本人確認済みの指定",
    "insurer_number": "保険者番号",
    "symbol": "記号",
    "number": "番号",
    "branch": "枝番",
    "birthdate": "生年月日",
    "proxy": "代理の指定",
    "consent": "同意",
    "consent.limit_info": "限度額情報の同意",
    "items": "照会の一覧",
    "item": "照会項目",
}
TEMPLATES = {
    REQUIRED: "{label}（{field}）を指定してください。",
    FORMAT: "{label}（{field}）の形式が正しくありません。",
    LENGTH: "{label}（{field}）の文字数が正しくありません。",
    CHECK_DIGIT: "{label}（{field}）の検証番号が一致しません。番号を確認してください。",
    RANGE: "{label}（{field}）が受け付けられる範囲外です。",
}


class Parsed(NamedTuple):
    presented: int
    day: int
    proxy: bool
    limit_consent: bool
    serial: str  # card path
    auth_method: int  # card path
    identity_verified: bool  # info notice
    insurer_number: str  # number path
    symbol: str
    number: str
    branch: int  # -1 = omitted
    birthdate: int


def field_error(field: str, code: str) -> dict[str, str]:
    """One entry of `error.fields`, with its Japanese message naming the field."""
    label = LABELS.get(field, field)
    return {"field": field, "code": code, "message": TEMPLATES[code].format(label=label, field=field)}


def json_object(body: bytes) -> dict[str, Any] | None:
    """The request body as a JSON object, or None (the answer is MALFORMED_JSON)."""
    try:
        req = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return req if type(req) is dict else None


def validation_error(fields: list[dict[str, str]]) -> dict[str, Any]:
    """The body of a 422 answer."""
    names = "、".join(f["field"] for f in fields)
    return {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": f"入力内容に誤りがあります（{names}）。",
            "fields": fields,
        }
    }


def check_institution_code(value: Any, errors: list[dict[str, str]]) -> None:
    """Add the error of a missing or malformed institution_code, if any."""
    if value is None:
        errors.append(field_error("institution_code", REQUIRED))
    elif type(value) is not str or not is_institution_code(value):
        errors.append(field_error("institution_code", FORMAT))


def check_day(name: str, value: Any, default: int, today: int, errors: list[dict[str, str]]) -> int:
    """Validate an optional confirmation_date; return its day number or `default`."""
    if value is None:
        return default
    day = parse_day(value) if type(value) is str else None
    if day is None:
        errors.append(field_error(name, FORMAT))
        return default
    if not FIRST_DAY <= day <= today + DAYS_AHEAD:
        errors.append(field_error(name, RANGE))
    return day


def _flag(req: dict[str, Any], name: str, errors: list[dict[str, str]]) -> bool:
    value = req.get(name)
    if value is None:
        return False
    if type(value) is not bool:
        errors.append(field_error(name, FORMAT))
        return False
    return value


def _text(req: dict[str, Any], name: str, required: bool, errors: list[dict[str, str]]) -> str | None:
    value = req.get(name)
    if value is None:
        if required:
            errors.append(field_error(name, REQUIRED))
        return None
    if type(value) is not str:
        errors.append(field_error(name, FORMAT))
        return None
    return value


def _normalised(raw: str | None, name: str, normalise: Any, errors: list[dict[str, str]]) -> Any:
    if raw is None:
        return None
    value, problem = normalise(raw)
    if problem is not None:
        errors.append(field_error(name, problem))
    return value


def parse_item(req: Any, today: int, default_day: int, errors: list[dict[str, str]]) -> Parsed | None:
    """Validate one item; return it parsed, or None after appending its field errors."""
    if type(req) is not dict:
        errors.append(field_error("item", FORMAT))
        return None
    presented_raw = _text(req, "presented", True, errors)
    presented = PRESENTED.get(presented_raw, -1) if presented_raw is not None else -1
    if presented_raw is not None and presented < 0:
        errors.append(field_error("presented", FORMAT))
    day = check_day("confirmation_date", req.get("confirmation_date"), default_day, today, errors)
    proxy = _flag(req, "proxy", errors)
    consent = req.get("consent")
    limit_consent = False
    if consent is not None:
        if type(consent) is not dict:
            errors.append(field_error("consent", FORMAT))
        else:
            limit = consent.get("limit_info")
            if limit is not None and type(limit) is not bool:
                errors.append(field_error("consent.limit_info", FORMAT))
            limit_consent = limit is True

    serial = symbol = number = insurer = ""
    auth = branch = -1
    birth = 0
    identity_verified = False
    if presented == MYNA_CARD:
        serial = (
            _normalised(
                _text(req, "certificate_serial", True, errors), "certificate_serial", normalise_serial, errors
            )
            or ""
        )
        auth_raw = _text(req, "auth_method", True, errors)
        if auth_raw is not None:
            auth = AUTH_METHODS.get(auth_raw, -1)
            if auth < 0:
                errors.append(field_error("auth_method", FORMAT))
    elif presented > 0:
        if presented == INFO_NOTICE:
            identity_verified = _flag(req, "identity_verified", errors)
        insurer = (
            _normalised(
                _text(req, "insurer_number", True, errors), "insurer_number", normalise_insurer_number, errors
            )
            or ""
        )
        symbol = (
            _normalised(_text(req, "symbol", False, errors) or "", "symbol", normalise_symbol, errors) or ""
        )
        number = _normalised(_text(req, "number", True, errors), "number", normalise_number, errors) or ""
        branch_raw = _text(req, "branch", False, errors)
        if branch_raw is not None:
            branch = _normalised(branch_raw, "branch", normalise_branch, errors)
        birth_raw = _text(req, "birthdate", True, errors)
        if birth_raw is not None:
            parsed_birth = parse_day(birth_raw)
            if parsed_birth is None:
                errors.append(field_error("birthdate", FORMAT))
            else:
                birth = parsed_birth
    if errors:
        return None
    return Parsed(
        presented,
        day,
        proxy,
        limit_consent,
        serial,
        auth,
        identity_verified,
        insurer,
        symbol,
        number,
        branch,
        birth,
    )


def check_batch(req: dict[str, Any], today: int, errors: list[dict[str, str]]) -> int:
    """Validate a batch's top level; return the default confirmation day of its items."""
    check_institution_code(req.get("institution_code"), errors)
    default_day = check_day("confirmation_date", req.get("confirmation_date"), today, today, errors)
    items = req.get("items")
    if items is None:
        errors.append(field_error("items", REQUIRED))
    elif type(items) is not list:
        errors.append(field_error("items", FORMAT))
    return default_day
