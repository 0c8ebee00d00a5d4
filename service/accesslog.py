"""The access log: one record per confirmation, for the member's "who looked at my data" view.

The cores append one CSV line per decided confirmation to `pending` as they decide, in
the format of core_ext._logline (its `at` is the `checked_at` the clinic was shown,
Japan time), and the hot path calls `persist` before the answer is sent: the lines are
written to a file, so a record outlives the process (the page cache survives SIGKILL
and the OOM killer) before its answer leaves.

- `--data` mode: the file is `access-log.csv` in the state directory itself, appended to
  by every worker (O_APPEND: one write never interleaves with another's).
- With PostgreSQL: each worker writes to a file of its own, `access-log.unsaved.NAME`,
  held under an exclusive lock while it lives.  Every half second the worker closes it
  (renamed `access-log.sealed.NAME`) and starts another, then saves every sealed file,
  oldest first, into `access_log`: one transaction per file, which also records the
  file's name in `access_log_files`, so a file met again after a crash between that
  commit and its deletion is known to be saved.  A file left unsaved and unlocked by a
  dead worker is sealed and saved by the next worker to look.  Each record is stored
  exactly once.  While PostgreSQL is away, the sealed files wait (fsynced) and the
  server keeps answering.

Power loss can take what is in the page cache and not yet saved or fsynced: at most the
last half second of records.  Records hold only internal ids (person, qualification),
never symbol, number or serial.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import logging
import os
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg

from core_ext import ACCESS_COLUMNS, checked_access_line
from service.db.pool import Database
from service.journalindex import JournalIndex
from service.metrics import ACCESS_LOG_EVENTS

log = logging.getLogger("onshi.accesslog")

FLUSH_SECONDS = 0.5
UNSAVED = "access-log.unsaved."  # a live worker's file (locked), or a dead one's (not)
SEALED = "access-log.sealed."  # closed, waiting to be saved into PostgreSQL
LEGACY_SPILL = "access-log.spill*"  # what versions before the per-worker files left
QUARANTINE = "access-log.quarantine"  # lines that are not whole records, kept for a person to read
COPY_LINES = 20_000  # records per COPY: a long outage's files are saved in bounded steps
COPY_TIMEOUT = 30.0

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


def _sorted_out(lines: bytes) -> tuple[bytes, list[bytes]]:
    """(the whole records, the lines that are not): a line torn by a crash or a full disk
    must not stop every record after it from being saved."""
    good: list[bytes] = []
    bad: list[bytes] = []
    for line in lines.splitlines():
        (good if checked_access_line(line) is not None else bad).append(line)
    return b"".join(line + b"\n" for line in good), bad


def _japan_time(at: datetime) -> str:
    return at.astimezone(JST).isoformat(timespec="milliseconds")


def _answer(record: Record) -> dict[str, Any]:
    """A record as GET /v1/admin/persons/{id}/access-log shows it."""
    return {k: record[k] for k in ("at", "institution_code", "presented", "code", "request_id")}


class AccessLog:
    """Buffer, files, writer and reader; the records go to PostgreSQL (`database`) or,
    without one, to `access-log.csv` in the state directory."""

    def __init__(self, state_dir: Path, database: Database | None = None) -> None:
        self.state_dir = state_dir
        self._tail_checked = False
        self.database = database
        # The cores append lines here; `persist` writes them out and empties it (the hot
        # path fetches `pending` for every request, and it is always the same object).
        self.pending = bytearray()
        self.journal = state_dir / "access-log.csv"  # the --data mode store
        self._index = JournalIndex(self.journal)  # and how it is read
        self._fd: int | None = None  # the file `persist` appends to
        self._name = ""  # with a database: this worker's current file's NAME
        self._unsaved_bytes = 0
        self._files = 0
        self._months: set[date] = set()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._away = False
        self._unwritable = False
        self._persist_scheduled = False
        self.written = 0

    async def start(self) -> None:
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # records of visits: ours alone
        self._task = asyncio.create_task(self._run(), name="onshi-access-log")

    async def stop(self) -> None:
        """Save everything (into the database; its files wait if it is away)."""
        if self._task is not None:
            # Stop the periodic writer between flushes, never inside one.
            async with self._lock:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if self.database is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.state_dir / f"{UNSAVED}{self._name}")  # empty: sealed if not

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:  # never let the writer die; the records are in files
                log.exception("access log flush failed")

    def persist(self) -> bool:
        """Write `pending` to this worker's file, then empty it: called before an answer
        leaves.  False when the file cannot be written (the disk is full): what was not
        written stays in `pending`."""
        pending = self.pending
        if not pending:
            return True
        written, failure = 0, None
        try:
            if self._fd is None:
                self._fd = self._open()
            written = os.write(self._fd, pending)  # nearly always all of it, without a copy
            while written < len(pending):
                with memoryview(pending) as view:
                    written += os.write(self._fd, view[written:])
        except OSError as exc:
            failure = exc
        del pending[:written]
        self._unsaved_bytes += written
        if failure is not None:
            if not self._unwritable:
                log.error(
                    "access records cannot be written (%s): confirmations are refused", failure.strerror
                )
            self._unwritable = True
            return False
        if self._unwritable:
            log.info("access records can be written again")
            self._unwritable = False
        return True

    @property
    def unwritable(self) -> bool:
        """The last write failed: records are written, and refused, one answer at a time."""
        return self._unwritable

    def persist_soon(self) -> None:
        """`persist` at the start of the event loop's next turn, before any answer written
        in this one leaves: service.transport's one-write transport sends each answer from
        a callback scheduled after the answer is written, so after this one (a batch's answer,
        which may be larger than it joins, is persisted at once instead).  One write then
        covers every record of the turn.  Should it fail, those answers have gone with their
        records still in memory, and from then on each answer waits for its own write."""
        if not self._persist_scheduled:
            self._persist_scheduled = True
            asyncio.get_running_loop().call_soon(self._persist_now)

    def _persist_now(self) -> None:
        self._persist_scheduled = False
        self.persist()

    def forget(self, count: int) -> None:
        """Drop the last `count` bytes of records (those of an answer refused because they
        could not be written), except the rest of a line already partly written: the file
        must hold whole lines once it can be written again."""
        keep = len(self.pending) - count
        if keep < 0:
            keep = self.pending.find(b"\n") + 1
        del self.pending[keep:]

    def _open(self) -> int:
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # records of visits: ours alone
        if self.database is None:
            fd = os.open(self.journal, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            size = os.fstat(fd).st_size
            if not self._tail_checked and size and os.pread(fd, 1, size - 1) != b"\n":
                # A line torn by an earlier process's crash: ended here, so that the next
                # record is not glued to it (readers pass the torn line over).  Only at
                # the first open: later, a line this process began is completed instead.
                os.write(fd, b"\n")
            self._tail_checked = True
            return fd
        self._files += 1
        # Names sort by when they were made: files are saved oldest first.
        self._name = f"{time.time_ns():020d}-{os.getpid()}-{self._files}"
        fd = os.open(
            self.state_dir / f"{UNSAVED}{self._name}",
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL,
            0o600,
        )
        fcntl.flock(fd, fcntl.LOCK_EX)  # alive: nobody else seals it
        return fd

    async def flush(self) -> None:
        async with self._lock:
            if not self.persist():
                return  # nothing can be written; the records stay in `pending`
            if self.database is None:
                if self._fd is not None and self._unsaved_bytes:
                    self._unsaved_bytes = 0
                    await asyncio.to_thread(os.fsync, self._fd)  # the power-loss window
                return
            if self._unsaved_bytes:
                self._seal()
            self._claim_dead_workers_files()
            await self._save_sealed()

    def _seal(self) -> None:
        """Close this worker's file for saving; the next record starts another."""
        assert self._fd is not None
        os.rename(self.state_dir / f"{UNSAVED}{self._name}", self.state_dir / f"{SEALED}{self._name}")
        os.close(self._fd)
        self._fd = None
        self._unsaved_bytes = 0

    def _claim_dead_workers_files(self) -> None:
        # An earlier version's spill files (written whole, fsynced) are saved like sealed ones.
        for path in self.state_dir.glob(LEGACY_SPILL):
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, self.state_dir / f"{SEALED}{path.stat().st_mtime_ns:020d}-legacy-{path.name}")
        for path in self.state_dir.glob(f"{UNSAVED}*"):
            if path.name == f"{UNSAVED}{self._name}" and self._fd is not None:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live worker: its own
            except BlockingIOError:
                os.close(fd)
                continue
            with contextlib.suppress(FileNotFoundError):  # another worker claimed it first
                os.rename(path, self.state_dir / f"{SEALED}{path.name[len(UNSAVED) :]}")
                log.info("claimed the unsaved access records of a worker that is gone")
            os.close(fd)

    async def _save_sealed(self) -> None:
        """Save every sealed file nobody else is saving, oldest first, each exactly once."""
        paths = sorted(self.state_dir.glob(f"{SEALED}*"))
        if not paths:
            return
        try:
            async with self.database.connection() as conn:  # type: ignore[union-attr]
                for path in paths:
                    await self._save(conn, path)
            if self._away:
                log.info("database back: access records saved")
            self._away = False
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            if not self._away:
                log.warning("database unavailable (%s): access records wait in files", type(exc).__name__)
            self._away = True
            await asyncio.to_thread(_fsync_all, paths)

    async def _save(self, conn: asyncpg.Connection, path: Path) -> None:
        try:
            f = path.open("rb")
        except FileNotFoundError:
            return  # another worker saved it
        with f:
            try:  # waits for no one: a file another worker is saving is skipped
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            if not path.exists():
                return
            lines, bad = await asyncio.to_thread(_sorted_out, f.read())
            if bad:
                self._quarantine(bad, path.name)
            name = path.name[len(SEALED) :]
            # Partitions first, outside the transaction: a rolled-back one would be gone
            # while this process believed it made.
            for month in _months_around(lines) - self._months:
                await conn.execute("SELECT onshi_access_log_partition($1)", month)
                self._months.add(month)
            try:
                async with conn.transaction():
                    fresh = await conn.fetchval(
                        "INSERT INTO access_log_files (name) VALUES ($1) "
                        "ON CONFLICT DO NOTHING RETURNING true",
                        name,
                    )
                    if fresh and lines:
                        await self._copy(conn, lines)
            except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
                # Records PostgreSQL refuses, however sound they look here: set aside whole,
                # not retried forever ahead of every later file.
                log.error("access records refused by PostgreSQL (%s): set aside", type(exc).__name__)
                self._quarantine(lines.splitlines(), path.name)
            path.unlink()
        await conn.execute("DELETE FROM access_log_files WHERE name = $1", name)

    async def _copy(self, conn: asyncpg.Connection, lines: bytes) -> None:
        """COPY the records in steps of COPY_LINES (in the caller's transaction)."""
        rows = lines.splitlines(keepends=True)
        for first in range(0, len(rows), COPY_LINES):
            chunk = b"".join(rows[first : first + COPY_LINES])
            copy = conn.copy_to_table(
                "access_log", source=io.BytesIO(chunk), columns=ACCESS_COLUMNS, format="csv"
            )
            await asyncio.wait_for(copy, COPY_TIMEOUT)
        self.written += len(rows)

    def _quarantine(self, lines: list[bytes], source: str) -> None:
        """Keep lines that cannot be saved in `access-log.quarantine` (0600), and say so."""
        fd = os.open(self.state_dir / QUARANTINE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"".join(line + b"\n" for line in lines))
        finally:
            os.close(fd)
        ACCESS_LOG_EVENTS["quarantined_lines"] += len(lines)
        log.error(
            "%d access-log line(s) of %s are not whole records: kept in %s", len(lines), source, QUARANTINE
        )

    async def for_person(self, person_id: int, limit: int) -> list[dict[str, Any]]:
        """Newest first: what is stored and what still waits in files."""
        answers = await asyncio.to_thread(self._in_files, person_id, limit)
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
        for answer in answers[:limit]:
            # A NOT_FOUND recorded against a person is a wrong birthdate for their key
            # (core_ext._logline): someone tried, and the member should see it.
            answer["birthdate_mismatch"] = answer["code"] == "NOT_FOUND"
        return answers[:limit]

    def _in_files(self, person_id: int, limit: int) -> list[dict[str, Any]]:
        """This person's records in the files, newest first (called off the event loop); a
        damaged line is passed over.  The `--data` journal grows without bound: it is read
        through its index (service/journalindex.py), the files waiting for PostgreSQL whole."""
        if self.database is None:
            return self._index.for_person(person_id, limit)
        files = sorted([*self.state_dir.glob(f"{SEALED}*"), *self.state_dir.glob(f"{UNSAVED}*")])
        needle = f",{person_id},".encode()
        answers = []
        for path in files:
            with contextlib.suppress(FileNotFoundError), path.open("rb") as f:
                for line in f:
                    if needle not in line:
                        continue  # most lines: no parsing
                    record = checked_access_line(line.rstrip(b"\n"))
                    if record is not None and record["person_id"] == person_id:
                        answers.append(_answer(record))
        answers.reverse()  # newest first; records of one millisecond keep their order (stable sort)
        return answers


def _fsync_all(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError), path.open("rb") as f:
            os.fsync(f.fileno())
