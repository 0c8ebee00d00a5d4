"""The access log: one record per confirmation, for the member's "who looked at my data" view.

The hot path only appends one tuple per request to an in-memory list.  A background
task moves the records out at least every second: into PostgreSQL with COPY, or, in
`--data` mode, onto a JSON-lines file in the state directory.  When PostgreSQL cannot
be reached the records are appended to a local spill file (fsynced) and replayed,
oldest first, once it is back.  Shutdown flushes everything before the process exits.
Records hold only internal ids (person, qualification), never symbol, number or serial.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from core_ext._codes import CODE_NAMES, PRESENTED

log = logging.getLogger("onshi.accesslog")

FLUSH_SECONDS = 0.5
CONNECT_TIMEOUT = 3.0
COLUMNS = ("at", "institution_code", "presented", "code", "request_id", "person_id", "qualification_id")
PRESENTED_NAMES = {v: k for k, v in PRESENTED.items()}

# What the hot path appends: (epoch seconds, institution, request_id, [(presented, code, person, qual)…])
Pending = tuple[float, str, str, list[tuple[int, int, int | None, int | None]]]
Record = dict[str, Any]


def expand(pending: Iterable[Pending]) -> Iterator[Record]:
    """One record per decided confirmation."""
    for at, institution, request_id, items in pending:
        for presented, code, person, qual in items:
            yield {
                "at": at,
                "institution_code": institution,
                "presented": PRESENTED_NAMES[presented],
                "code": CODE_NAMES[code],
                "request_id": request_id,
                "person_id": person,
                "qualification_id": qual,
            }


def _answer(record: Record) -> dict[str, Any]:
    """A record as GET /v1/admin/persons/{id}/access-log shows it."""
    return {
        "at": datetime.fromtimestamp(record["at"], UTC).isoformat(),
        "institution_code": record["institution_code"],
        "presented": record["presented"],
        "code": record["code"],
        "request_id": record["request_id"],
    }


class AccessLog:
    """Buffer, writer and reader; `sink` is PostgreSQL (a URL) or a JSON-lines file."""

    def __init__(self, state_dir: Path, database_url: str | None = None) -> None:
        self.state_dir = state_dir
        self.database_url = database_url
        self.pending: list[Pending] = []
        self.spill = state_dir / "access-log.spill.jsonl"
        self.journal = state_dir / "access-log.jsonl"  # the --data mode store
        self._conn: asyncpg.Connection | None = None
        self._months: set[date] = set()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.written = 0

    def add(self, at: float, institution: str, request_id: str, items: list[Any]) -> None:
        """Called by the hot path: O(1), no I/O."""
        self.pending.append((at, institution, request_id, items))

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._run(), name="onshi-access-log")

    async def stop(self) -> None:
        """Flush everything (to the database, or the spill file if it is away)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), 2)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:  # never let the writer die; the records are still spilled
                log.exception("access log flush failed")

    async def flush(self) -> None:
        async with self._lock:
            batch, self.pending = self.pending, []
            records = list(expand(batch))
            if self.database_url is None:
                if records:
                    self._append(self.journal, records)
                return
            if not records and not self.spill.exists():
                return
            try:
                conn = await self._connection()
                if self.spill.exists():
                    await self._replay(conn)
                if records:
                    await self._copy(conn, records)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                await self._drop_connection()
                if records:
                    log.warning(
                        "database unavailable (%s): %d access records spilled",
                        type(exc).__name__,
                        len(records),
                    )
                    self._append(self.spill, records)

    def _append(self, path: Path, records: list[Record]) -> None:
        with path.open("ab") as f:
            f.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
            f.flush()
            os.fsync(f.fileno())
        self.written += len(records)

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.database_url, timeout=CONNECT_TIMEOUT)
        return self._conn

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.terminate()
        self._conn = None

    async def _replay(self, conn: asyncpg.Connection) -> None:
        records = [orjson.loads(line) for line in self.spill.read_bytes().splitlines() if line.strip()]
        if records:
            await self._copy(conn, records)
        # At-least-once: a crash between COPY and unlink could repeat these records.
        self.spill.unlink()
        log.info("replayed %d spilled access records", len(records))

    async def _copy(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        rows = [(datetime.fromtimestamp(r["at"], UTC), *(r[c] for c in COLUMNS[1:])) for r in records]
        for month in {datetime(t.year, t.month, 1).date() for t, *_ in rows} - self._months:
            await conn.execute("SELECT onshi_access_log_partition($1)", month)
            self._months.add(month)
        await asyncio.wait_for(conn.copy_records_to_table("access_log", records=rows, columns=COLUMNS), 30)
        self.written += len(rows)

    async def for_person(self, person_id: int, limit: int) -> list[dict[str, Any]]:
        """Newest first: what is stored, spilled, and still waiting to be written."""
        found = [r for r in expand(self.pending) if r["person_id"] == person_id]
        for path in (self.journal, self.spill):
            if path.exists():
                found += [
                    r
                    for r in map(orjson.loads, path.read_bytes().splitlines())
                    if r["person_id"] == person_id
                ]
        answers = [_answer(r) for r in found]
        if self.database_url is not None:
            conn = await self._connection()
            stored = await conn.fetch(
                "SELECT at, institution_code, presented, code, request_id FROM access_log "
                "WHERE person_id = $1 ORDER BY at DESC LIMIT $2",
                person_id,
                limit,
            )
            answers += [{**dict(r), "at": r["at"].isoformat()} for r in stored]
        answers.sort(key=lambda a: a["at"], reverse=True)
        return answers[:limit]


def now() -> float:
    return time.time()
