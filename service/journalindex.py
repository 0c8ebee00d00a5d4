"""A per-person index of the `--data` journal (`access-log.csv`), so that a member's
access log is found without reading every record ever written.

The journal stays the record (appended before each answer leaves, service/accesslog.py);
this index is derived from it and can be deleted at any time.  It is SQLite in the
state directory (`access-log.index.sqlite`, 0600): each read first adds the journal's
lines written since the last (whole lines only, from the byte offset it stored), then
asks for the person's newest records.  Workers share it (SQLite's own locking; one
catches up at a time).  Another journal file (rotated or replaced: another inode, or
shorter than the offset) starts the index again.  Called off the event loop.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from core_ext import checked_access_line

FILE_NAME = "access-log.index.sqlite"
READ_CHUNK = 8 * 1024 * 1024  # journal bytes read (and indexed) at a time
SHOWN = ("at", "institution_code", "presented", "code", "request_id")


class JournalIndex:
    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self.path = journal.with_name(FILE_NAME)

    def _connect(self) -> sqlite3.Connection:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # created private, then opened by SQLite
        os.close(fd)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS indexed (journal_inode INTEGER, journal_bytes INTEGER)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS records (person_id INTEGER NOT NULL, at TEXT, "
            "institution_code TEXT, presented TEXT, code TEXT, request_id TEXT)"
        )
        conn.execute("CREATE INDEX IF NOT EXISTS records_by_person ON records (person_id)")
        return conn

    def for_person(self, person_id: int, limit: int) -> list[dict[str, Any]]:
        """The person's records in the journal, newest first (at most `limit`)."""
        conn = self._connect()
        try:
            self._catch_up(conn)
            rows = conn.execute(
                f"SELECT {', '.join(SHOWN)} FROM records WHERE person_id = ? ORDER BY rowid DESC LIMIT ?",
                (person_id, limit),
            ).fetchall()
        finally:
            conn.close()
        return [dict(zip(SHOWN, row, strict=True)) for row in rows]

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")  # one indexer at a time
        try:
            row = conn.execute("SELECT journal_inode, journal_bytes FROM indexed").fetchone()
            inode, done = row if row else (None, 0)
            try:
                stat = self.journal.stat()
                size, current = stat.st_size, stat.st_ino
            except FileNotFoundError:
                size, current = 0, None
            if current != inode or size < done:  # another journal file: index it afresh
                conn.execute("DELETE FROM records")
                done = 0
            if size > done:
                with self.journal.open("rb") as journal:
                    journal.seek(done)
                    while chunk := journal.read(READ_CHUNK):
                        whole = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
                        if not whole:
                            break
                        conn.executemany(
                            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
                            [
                                (r["person_id"], *(r[k] for k in SHOWN))
                                for line in whole.splitlines()
                                if (r := checked_access_line(line)) is not None and r["person_id"] is not None
                            ],
                        )
                        done += len(whole)
                        journal.seek(done)
            conn.execute("DELETE FROM indexed")
            conn.execute("INSERT INTO indexed VALUES (?, ?)", (current, done))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
