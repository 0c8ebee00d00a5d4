"""Japan time for `checked_at` and the default confirmation date (the container runs in UTC)."""

from __future__ import annotations

import time

TOKYO_OFFSET = 9 * 3600
EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()

_cached_second = -1
_cached_prefix = ""
_cached_day = 0
_cached_milli = -1
_cached_now: tuple[int, str] = (0, "")


def tokyo_now() -> tuple[int, str]:
    """(today in Asia/Tokyo as a day number, now as ISO 8601 with milliseconds and +09:00)."""
    global _cached_second, _cached_prefix, _cached_day, _cached_milli, _cached_now
    now = time.time()
    milli = int(now * 1000)
    if milli == _cached_milli:  # at full load dozens of answers share one millisecond
        return _cached_now
    second = milli // 1000
    if second != _cached_second:  # formatting costs more than the rest of this function
        local = second + TOKYO_OFFSET
        _cached_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(local))
        _cached_day = local // 86400 + EPOCH_ORDINAL
        _cached_second = second
    _cached_milli = milli
    _cached_now = (_cached_day, f"{_cached_prefix}.{milli % 1000:03d}+09:00")
    return _cached_now


def tokyo_today() -> int:
    """Today in Asia/Tokyo as a day number (`date.toordinal()`)."""
    return tokyo_now()[0]
