"""Secrets stay out of error messages, and an admin token is never guessable (issue #20)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import pytest
from pydantic import ValidationError

from service.settings import MIN_ADMIN_TOKEN, Settings
from tests.conftest import EXAMPLES, examples_app
from tests.processes import ONSHI

SECRET_URL = "postgresql://onshi:hunter2-very-secret@db.example/onshi"


def test_a_settings_error_names_the_setting_but_not_its_value() -> None:
    env = {**os.environ, "ONSHI_DATABASE_URL": SECRET_URL, "ONSHI_ADMIN_TOKEN": "short-secret-token"}
    result = subprocess.run(
        [str(ONSHI), "serve", "--port", "notaport"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    result = subprocess.run([str(ONSHI), "serve"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2 and "ONSHI_ADMIN_TOKEN must be at least" in result.stderr
    assert "hunter2" not in result.stderr and "short-secret-token" not in result.stderr, result.stderr


def test_a_short_admin_token_is_refused_without_a_database_too() -> None:
    with pytest.raises(ValidationError):
        Settings(data=str(EXAMPLES / "data"), admin_token="x" * (MIN_ADMIN_TOKEN - 1))
    assert Settings(data=str(EXAMPLES / "data"), admin_token="x" * MIN_ADMIN_TOKEN).admin_token


def test_websocket_scopes_are_refused() -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(
        examples_app()({"type": "websocket", "path": "/v1/confirmations", "headers": []}, receive, send)
    )
    assert sent == [{"type": "websocket.close", "code": 1008}]
