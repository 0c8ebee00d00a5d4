"""The `--data` journal's per-person index (service/journalindex.py): newest first, only
new lines read each time, a line still being written left for later, a rotated journal
indexed afresh."""

from __future__ import annotations

from pathlib import Path

from core_ext import access_line
from service.journalindex import JournalIndex

AT = "2026-12-03T10:00:0{}.000+09:00"


def line(second: int, request_id: str, person: int | None) -> bytes:
    return access_line(
        AT.format(second), "2710000019", 0, 0, request_id, person, None if person is None else 11
    )


def test_newest_first_and_only_new_lines_read(tmp_path: Path) -> None:
    journal = tmp_path / "access-log.csv"
    journal.write_bytes(line(1, "a", 1) + line(2, "b", 2) + line(3, "c", 1) + line(4, "torn", 1)[:30])
    index = JournalIndex(journal)
    assert [r["request_id"] for r in index.for_person(1, 10)] == ["c", "a"]
    assert index.path.stat().st_mode & 0o777 == 0o600
    raw = bytearray(journal.read_bytes())
    raw[: len(line(1, "a", 1))] = line(1, "x", 1)  # indexed bytes changed in place: not read again
    journal.write_bytes(bytes(raw[: raw.rfind(b"\n") + 1]) + line(4, "d", 1) + line(5, "e", 3))
    assert [r["request_id"] for r in index.for_person(1, 10)] == ["d", "c", "a"]
    assert [r["request_id"] for r in index.for_person(1, 2)] == ["d", "c"]
    assert index.for_person(3, 10) == [
        {
            "at": AT.format(5),
            "institution_code": "2710000019",
            "presented": "myna_card",
            "code": "VALID",
            "request_id": "e",
        }
    ]


def test_a_rotated_journal_is_indexed_afresh(tmp_path: Path) -> None:
    journal = tmp_path / "access-log.csv"
    journal.write_bytes(line(1, "a", 1) + line(2, "b", 1))
    index = JournalIndex(journal)
    assert len(index.for_person(1, 10)) == 2
    journal.write_bytes(line(3, "c", 1))  # rotated: a new, shorter file
    assert [r["request_id"] for r in index.for_person(1, 10)] == ["c"]
    replacement = tmp_path / "new.csv"
    replacement.write_bytes(line(4, "d", 1) + line(5, "e", 1) + line(6, "f", 2))  # longer, renamed over
    replacement.replace(journal)
    assert [r["request_id"] for r in index.for_person(1, 10)] == ["e", "d"]


def test_the_state_directory_and_the_journal_are_private(tmp_path: Path) -> None:
    import asyncio

    from service.accesslog import AccessLog

    access = AccessLog(tmp_path / "state")
    access.pending += line(1, "a", 1)

    async def run() -> None:
        await access.start()
        assert access.persist()
        await access.stop()

    asyncio.run(run())
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "state" / "access-log.csv").stat().st_mode & 0o777 == 0o600
    assert JournalIndex(tmp_path / "state" / "access-log.csv").for_person(1, 5)[0]["request_id"] == "a"
