"""Fixed error answers of the confirmation API and the batch limits (CONTRACT.md §2)."""

from __future__ import annotations

from typing import Any

MAX_BATCH_ITEMS = 10_000


def error_body(code: str, message: str) -> dict[str, Any]:
    """An `{"error": …}` answer without field details."""
    return {"error": {"code": code, "message": message}}


MALFORMED_JSON = error_body(
    "MALFORMED_JSON", "リクエスト本文がJSONオブジェクトではありません（UTF-8のJSONで送ってください）。"
)
INSTITUTION_MISMATCH = error_body(
    "INSTITUTION_MISMATCH",
    "医療機関等コード（institution_code）がAPIキーの医療機関と一致しません。",
)
TOO_MANY_ITEMS = error_body("PAYLOAD_TOO_LARGE", f"一括照会の件数（items）は{MAX_BATCH_ITEMS:,}件までです。")
