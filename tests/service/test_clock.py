"""Japan time for answers: the cached clock must still agree with the zone database."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service import clock

TOKYO = ZoneInfo("Asia/Tokyo")


def test_tokyo_now_matches_zoneinfo_across_calls() -> None:
    for _ in range(2000):  # crosses millisecond (and often second) boundaries
        before = datetime.now(TOKYO)
        day, checked_at = clock.tokyo_now()
        after = datetime.now(TOKYO)
        stamp = datetime.fromisoformat(checked_at)
        assert stamp.utcoffset() == timedelta(hours=9)
        assert before - timedelta(milliseconds=1) <= stamp <= after
        assert day in (before.date().toordinal(), after.date().toordinal())


def test_day_turns_at_tokyo_midnight(monkeypatch: pytest.MonkeyPatch) -> None:
    # 2025-03-31T15:00:00Z is 2025-04-01T00:00:00+09:00.
    midnight = datetime(2025, 3, 31, 15, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    for offset, expected in ((-0.001, "2025-03-31"), (0.0, "2025-04-01")):
        monkeypatch.setattr(clock.time, "time", lambda t=midnight + offset: t)
        day, checked_at = clock.tokyo_now()
        assert datetime.fromordinal(day).date().isoformat() == expected
        assert checked_at.startswith(expected)
