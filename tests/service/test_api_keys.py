"""API keys in a data set: a previous key accepted beside the current one, and a changed
key taken up by a reload (SIGHUP) within a second."""

from __future__ import annotations

import csv
import shutil
import signal
import time
from pathlib import Path

import pytest

from service.dataset import DataSetError, hash_api_key, load_dir
from tests.conftest import EXAMPLES
from tests.processes import CARD_1, CLINIC_CODE, http, serve

ROTATED = "rotated-clinic-key-" + "k" * 24


def _with_keys(folder: Path, api_key: str, previous: str | None) -> Path:
    """A copy of the examples whose clinic has these keys."""
    if not folder.exists():
        shutil.copytree(EXAMPLES / "data", folder)
    path = folder / "institutions.csv"
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    for row in rows:
        row["api_key_previous"] = ""
        if row["institution_code"] == CLINIC_CODE:
            row["api_key"], row["api_key_previous"] = api_key, previous or ""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["institution_code", "name", "api_key", "api_key_previous"])
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_current_and_previous_keys_both_name_the_institution(tmp_path: Path) -> None:
    data = load_dir(_with_keys(tmp_path / "d", ROTATED, "demo-key-clinic"))
    assert data.institutions[hash_api_key(ROTATED)] == CLINIC_CODE
    assert data.institutions[hash_api_key("demo-key-clinic")] == CLINIC_CODE
    assert data.previous_keys == {CLINIC_CODE: hash_api_key("demo-key-clinic")}


@pytest.mark.parametrize(
    ("previous", "problem"),
    [
        # The clinic's row comes first: the pharmacy's own key is then the one found taken.
        ("demo-key-pharmacy", "institutions.csv:3: api_key: the same key is issued to another institution"),
        (ROTATED, "api_key_previous: the same as api_key"),
    ],
)
def test_a_previous_key_must_be_its_own(tmp_path: Path, previous: str, problem: str) -> None:
    with pytest.raises(DataSetError) as raised:
        load_dir(_with_keys(tmp_path / "d", ROTATED, previous))
    assert any(p.endswith(problem) for p in raised.value.problems), raised.value.problems


def _status(url: str, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return http(f"{url}/v1/confirmations", {"institution_code": CLINIC_CODE, **CARD_1}, headers)[0]


@pytest.mark.slow
def test_a_reload_revokes_a_key_within_a_second(tmp_path: Path) -> None:
    folder = _with_keys(tmp_path / "d", ROTATED, "demo-key-clinic")
    served = serve(tmp_path, ["--data", str(folder)], 1)
    try:
        assert _status(served.url, "demo-key-clinic") == 200 and _status(served.url, ROTATED) == 200
        _with_keys(folder, ROTATED, None)
        served.process.send_signal(signal.SIGHUP)
        started = time.monotonic()
        while _status(served.url, "demo-key-clinic") != 401:
            assert time.monotonic() - started < 1.0, "the reload took longer than a second"
            time.sleep(0.02)
        assert _status(served.url, ROTATED) == 200
    finally:
        served.kill_if_running()
