"""Structured logs: one JSON object per line from every process (uvicorn's loggers too), no
per-request lines, a request id where one is known, and never a member's personal data."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.dataset import load_dir
from service.logs import JsonFormatter
from service.settings import Settings
from service.state import generation_of
from tests.conftest import EXAMPLES
from tests.processes import (
    CLINIC_KEY,
    ONSHI,
    HeldRequest,
    assert_examples_pass,
    disclosed,
    http,
    personal_values,
    serve,
)

FIELDS = {"ts", "level", "logger", "msg", "pid"}


def record(msg: str, *args: Any, **extra: Any) -> logging.LogRecord:
    rec = logging.LogRecord("onshi.test", logging.WARNING, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_a_record_is_one_json_object_with_the_fields() -> None:
    line = JsonFormatter().format(record("reloaded %d persons", 11))
    assert "\n" not in line
    entry = json.loads(line)
    assert set(entry) == FIELDS
    assert entry["msg"] == "reloaded 11 persons"
    assert entry["level"] == "WARNING" and entry["logger"] == "onshi.test"
    assert entry["pid"] == os.getpid()
    assert entry["ts"].endswith("+00:00") and "T" in entry["ts"]


def test_request_id_and_exception_are_carried() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = record("confirmation failed", request_id="rid-1")
        rec.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(rec))
    assert entry["request_id"] == "rid-1"
    assert "ValueError: boom" in entry["exc"]


class BrokenCore:
    """A core whose confirmations fail (a bug in the hot path); the rest is the real core's."""

    def __init__(self, core: Any) -> None:
        self.core = core

    def confirm(self, *args: Any) -> Any:
        raise RuntimeError("core bug")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.core, name)


def test_a_failed_confirmation_is_logged_with_its_request_id(caplog: pytest.LogCaptureFixture) -> None:
    generation = generation_of(*load_dir(EXAMPLES / "data").build())
    generation.core = BrokenCore(generation.core)
    app = create_app(Settings(data=str(EXAMPLES / "data")), generation)
    headers = {"Authorization": f"Bearer {CLINIC_KEY}", "Content-Type": "application/json"}
    with caplog.at_level(logging.ERROR, logger="onshi.hotpath"):
        r = TestClient(app).post(
            "/v1/confirmations", content=b"{}", headers={**headers, "X-Request-ID": "broken-1"}
        )
    assert r.status_code == 500 and r.json()["error"]["code"] == "INTERNAL_ERROR"
    [failure] = [rec for rec in caplog.records if rec.name == "onshi.hotpath"]
    assert failure.request_id == "broken-1"  # type: ignore[attr-defined]
    assert failure.exc_info is not None


@pytest.mark.slow
def test_an_unknown_log_format_is_refused_by_name() -> None:
    result = subprocess.run(
        [str(ONSHI), "synth", "--members", "1", "--out", "/nonexistent"],
        capture_output=True,
        text=True,
        env={**os.environ, "ONSHI_LOG_FORMAT": "xml"},
        timeout=60,
    )
    assert result.returncode == 2
    assert "log_format" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2], ids=lambda n: f"workers={n}")
def test_a_served_day_logs_json_only_and_no_personal_data(tmp_path: Path, workers: int) -> None:
    served = serve(tmp_path, ["--data", str(EXAMPLES / "data")], workers, ONSHI_LOG_FORMAT="json")
    process, port, url, log_path = served.process, served.port, served.url, served.log
    try:
        for batch in (False, True):
            assert_examples_pass(url, batch)
        # A reload by signal and a request in flight at the stop log too.
        if workers == 1:
            process.send_signal(signal.SIGHUP)
            time.sleep(0.5)
        assert http(url + "/v1/snapshot")[0] == 200
        held = HeldRequest(port, "held-at-stop")
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert held.finish()[0] == 200
        assert process.wait(20) == 0
    finally:
        served.kill_if_running()
    text = log_path.read_text(encoding="utf-8")
    entries = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    assert all(set(entry) >= FIELDS for entry in entries)
    loggers = {entry["logger"] for entry in entries}
    assert {"uvicorn.error", "onshi", "onshi.serving"} <= loggers
    assert not any("/v1/confirmations" in entry["msg"] for entry in entries)  # no access lines
    assert any("access log flushed" in entry["msg"] for entry in entries)
    values = personal_values()
    assert len(values) > 30
    assert disclosed(text, values) == set()


def test_the_disclosure_search_finds_what_it_looks_for() -> None:
    """The search above would see a value logged as a message or inside a longer message."""
    values = personal_values()
    assert disclosed(json.dumps({"ts": "x", "msg": "birthdate 1970-01-20 refused"}), values) == {"1970-01-20"}
    assert disclosed(json.dumps({"msg": "symbol 7-10 number 123"}, ensure_ascii=False), values) >= {
        "7-10",
        "123",
    }
    assert disclosed(json.dumps({"msg": "大阪 一郎"}, ensure_ascii=False), values) == {"大阪 一郎"}
    assert disclosed(json.dumps({"msg": 'body {"branch": "00"}'}), values) == {"00"}
    assert disclosed(json.dumps({"ts": "2026-01-20T00:00:00", "pid": 123, "msg": "8000 01"}), values) == set()


@pytest.mark.slow
def test_the_demo_in_json_logs_gives_its_key_as_a_record_and_no_member(tmp_path: Path) -> None:
    from service.demo import DEMO_API_KEY, sample_request

    served = serve(tmp_path, ["--demo"], ONSHI_LOG_FORMAT="json", ONSHI_DEMO_MEMBERS="2000")
    log_path = served.log
    try:
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(20) == 0
    finally:
        served.kill_if_running()
    entries = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()]
    assert any(DEMO_API_KEY in entry["msg"] for entry in entries)
    member = sample_request()
    text = log_path.read_text(encoding="utf-8")
    assert member["birthdate"] not in text and f'"{member["number"]}"' not in text
