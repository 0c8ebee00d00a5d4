"""The access log: one record per confirmation, for the member's "who looked at my data" view.

The cores append one CSV line per decided confirmation to an in-memory buffer as they
decide, in the format of core_ext._logline (its `at` is the `checked_at` the clinic
was shown, Japan time).  A background task moves the lines out at least every second:
into PostgreSQL with COPY, or, in `--data` mode, onto `access-log.csv` in the state
directory.  When PostgreSQL cannot be reached the records are appended to a local
spill file (fsynced) and replayed, oldest first, once it is back.  Shutdown flushes
everything before the process exits.  Records hold only internal ids (person,
qualification), never symbol, number or serial.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import logging
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg

from core_ext import ACCESS_COLUMNS, parse_access_line
from service.db.pool import Database

log = logging.getLogger("onshi.accesslog")

FLUSH_SECONDS = 0.5
REPLAY_GLOB = "access-log.spill.*.replay"  # spill files claimed by a replaying worker

Record = dict[str, Any]
JST = timezone(timedelta(hours=9))


def _months_around(lines: bytes) -> set[date]:
    """Each line's month and its neighbours: the partition bounds follow the server's time zone."""
    months = set()
    for stamp in {line[:7] for line in lines.splitlines()}:
        year, month = int(stamp[:4]), int(stamp[5:7])
        for delta in (-1, 0, 1):
            y, m = divmod(year * 12 + month - 1 + delta, 12)
            months.add(date(y, m + 1, 1))
    return months


def _japan_time(at: datetime) -> str:
    return at.astimezone(JST).isoformat(timespec="milliseconds")


def _answer(record: Record) -> dict[str, Any]:
    """A record as GET /v1/admin/persons/{id}/access-log shows it."""
    return {k: record[k] for k in ("at", "institution_code", "presented", "code", "request_id")}


class AccessLog:
    """Buffer, writer and reader; the records go to PostgreSQL (`database`) or, without one,
    to `access-log.csv` in the state directory."""

    def __init__(self, state_dir: Path, database: Database | None = None) -> None:
        self.state_dir = state_dir
        self.database = database
        # The cores append lines here; flush swaps in a new buffer (the hot path fetches
        # `pending` for every request, so it never writes into one being flushed).
        self.pending = bytearray()
        self.spill = state_dir / "access-log.spill.csv"
        self.journal = state_dir / "access-log.csv"  # the --data mode store
        self._months: set[date] = set()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.written = 0
        self._claims = 0

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._run(), name="onshi-access-log")

    async def stop(self) -> None:
        """Flush everything (to the database, or the spill file if it is away)."""
        if self._task is not None:
            # Stop the periodic writer between flushes, never inside one: cancelled in the
            # middle of its COPY, the records it had taken out of `pending` were lost.
            async with self._lock:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:  # never let the writer die; the records are still spilled
                log.exception("access log flush failed")

    async def flush(self) -> None:
        async with self._lock:
            lines, self.pending = bytes(self.pending), bytearray()
            try:
                await self._write(lines)
            except BaseException:
                # Cancelled or failed unexpectedly: the lines go back in front of what came
                # since, for the next flush (at least once: a COPY the server finished just
                # before the cancellation reached us is written again).
                self.pending[:0] = lines
                raise

    async def _write(self, lines: bytes) -> None:
        """Write `lines` to the database, or the spill file if it is away (the caller holds the lock)."""
        if self.database is None:
            if lines:
                await asyncio.to_thread(self._append, self.journal, lines)
            return
        if not lines and not self._spilled():
            return
        try:
            async with self.database.connection() as conn:
                if self._spilled():
                    await self._replay(conn)
                if lines:
                    await self._copy(conn, lines)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            if lines:
                log.warning("database unavailable (%s): access records spilled", type(exc).__name__)
                await asyncio.to_thread(self._append, self.spill, lines)

    def _append(self, path: Path, lines: bytes) -> None:
        """Append under an exclusive lock: worker processes share the state directory.

        A replaying worker renames the spill file away before reading it; an appender
        that locked the renamed file (its inode is no longer at `path`) tries again, so
        no line lands in a file that has already been read.
        """
        while True:
            with path.open("ab") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                try:
                    current = os.stat(path).st_ino
                except FileNotFoundError:
                    current = -1
                if current != os.fstat(f.fileno()).st_ino:
                    continue  # claimed by a replay meanwhile: append to the new file
                f.write(lines)
                f.flush()
                os.fsync(f.fileno())
                break
        self.written += lines.count(b"\n")

    def _spilled(self) -> bool:
        return self.spill.exists() or any(self.state_dir.glob(REPLAY_GLOB))

    async def _replay(self, conn: asyncpg.Connection) -> None:
        """Claim the spill file by renaming it, then replay every claimed file nobody else holds."""
        self._claims += 1
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.spill, self.state_dir / f"access-log.spill.{os.getpid()}-{self._claims}.replay")
        for path in sorted(self.state_dir.glob(REPLAY_GLOB)):
            try:
                f = path.open("rb")
            except FileNotFoundError:
                continue  # another worker finished it
            with f:
                try:  # waits for no one: a file locked by another worker is skipped this round
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                if not path.exists():
                    continue
                lines = f.read()
                if lines:
                    await self._copy(conn, lines)
                # At-least-once: a crash between COPY and unlink could repeat these records.
                path.unlink()
                log.info("replayed %d spilled access records", lines.count(b"\n"))

    async def _copy(self, conn: asyncpg.Connection, lines: bytes) -> None:
        for month in _months_around(lines) - self._months:
            await conn.execute("SELECT onshi_access_log_partition($1)", month)
            self._months.add(month)
        copy = conn.copy_to_table(
            "access_log", source=io.BytesIO(lines), columns=ACCESS_COLUMNS, format="csv"
        )
        await asyncio.wait_for(copy, 30)
        self.written += lines.count(b"\n")

    async def for_person(self, person_id: int, limit: int) -> list[dict[str, Any]]:
        """Newest first: what is stored, spilled, and still waiting to be written."""
        # Oldest first: the journal (or spill file), then what is still in memory.
        unwritten = b""
        for path in (self.journal, *sorted(self.state_dir.glob(REPLAY_GLOB)), self.spill):
            with contextlib.suppress(FileNotFoundError):
                unwritten += path.read_bytes()
        unwritten += self.pending
        # Newest first; records of the same millisecond keep that order (the sort is stable).
        found = [parse_access_line(line) for line in reversed(unwritten.splitlines())]
        answers = [_answer(r) for r in found if r["person_id"] == person_id]
        if self.database is not None:
            async with self.database.connection() as conn:
                stored = await conn.fetch(
                    "SELECT at, institution_code, presented, code, request_id FROM access_log "
                    "WHERE person_id = $1 ORDER BY at DESC LIMIT $2",
                    person_id,
                    limit,
                )
            # Japan time with milliseconds, like checked_at, so all sources sort as text.
            answers += [{**dict(r), "at": _japan_time(r["at"])} for r in stored]
        answers.sort(key=lambda a: a["at"], reverse=True)
        return answers[:limit]
