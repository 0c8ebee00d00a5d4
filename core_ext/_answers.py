"""Fixed error answers of the confirmation API, encoded once, and the batch limits (CONTRACT.md §2)."""

from __future__ import annotations

import orjson

MAX_BATCH_ITEMS = 10_000


def error_body(code: str, message: str) -> bytes:
    """An `{"error": …}` answer without field details, as JSON."""
    return orjson.dumps({"error": {"code": code, "message": message}})


MALFORMED_JSON = error_body(
    "MALFORMED_JSON", "リクエスト本文がJSONオブジェクトではありません（UTF-8のJSONで送ってください）。"
)
INSTITUTION_MISMATCH = error_body(
    "INSTITUTION_MISMATCH",
    "医療機関等コード（institution_code）がAPIキーの医療機関と一致しません。",
)
TOO_MANY_ITEMS = error_body("PAYLOAD_TOO_LARGE", f"一括照会の件数（items）は{MAX_BATCH_ITEMS:,}件までです。")


def json_fields(fields: dict[str, object]) -> bytes:
    """`fields` as the JSON members `,"k":v,…` to splice into an object being written."""
    encoded = orjson.dumps(fields)
    return b"," + encoded[1 : len(encoded) - 1]
