"""Settings handed to worker processes through the environment come back unchanged."""

from __future__ import annotations

import os

import pytest

from service.settings import Settings


@pytest.mark.parametrize(
    "given",
    [
        {"data": "/srv/data", "workers": 2, "drain_seconds": 1.5, "log_format": "json"},
        {"snapshot": "/srv/a.snap", "port": 9000, "host": "0.0.0.0", "shutdown_timeout": 3.0},
        {"database_url": "postgresql://db/onshi", "admin_token": "t" * 40, "stale_after_seconds": 5.0},
        {"demo": True, "demo_members": 2000, "state_dir": "/var/lib/onshi"},
    ],
)
def test_environment_round_trip(monkeypatch: pytest.MonkeyPatch, given: dict[str, object]) -> None:
    for name in list(os.environ):
        if name.startswith("ONSHI_"):
            monkeypatch.delenv(name)
    # What the parent's environment said before is overridden or removed, not merged.
    monkeypatch.setenv("ONSHI_DATA", "/somewhere/else")
    monkeypatch.setenv("ONSHI_DEMO", "true")
    settings = Settings(**{"data": None, "demo": False, **given})  # type: ignore[arg-type]
    for name, value in settings.environment().items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert Settings() == settings
