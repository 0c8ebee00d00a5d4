"""Access-log lines: what COPY reads, what the member's view shows back, which partitions they need."""

from __future__ import annotations

from datetime import date

from core_ext import parse_access_line
from core_ext._codes import MYNA_CARD, NOT_FOUND, UNSPECIFIED, VALID
from core_ext._logline import access_line
from service.accesslog import _months_around


def test_lines_round_trip_without_identifiers() -> None:
    at = "2026-11-24T09:00:00.123+09:00"
    lines = [
        access_line(at, "1310000019", MYNA_CARD, VALID, "rid-1", 12, 345),
        access_line(at, "1310000019", UNSPECIFIED, NOT_FOUND, "rid-1", None, None),
    ]
    assert lines == [
        b"2026-11-24T09:00:00.123+09:00,1310000019,myna_card,VALID,rid-1,12,345\n",
        b"2026-11-24T09:00:00.123+09:00,1310000019,unspecified,NOT_FOUND,rid-1,,\n",
    ]
    first, second = (parse_access_line(line.rstrip(b"\n")) for line in lines)
    assert first["person_id"] == 12 and first["qualification_id"] == 345 and first["code"] == "VALID"
    assert second["person_id"] is None and second["qualification_id"] is None


def test_partitions_cover_the_neighbouring_months() -> None:
    lines = b"2026-12-01T00:30:00.000+09:00,x\n2027-01-15T10:00:00.000+09:00,y\n"
    # Japan's 1 December 00:30 is still November in UTC: the month before is needed too.
    assert _months_around(lines) == {date(2026, m, 1) for m in (11, 12)} | {date(2027, m, 1) for m in (1, 2)}
