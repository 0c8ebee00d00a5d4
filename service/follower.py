"""Follow PostgreSQL: map a snapshot file, then apply change_log entries as they commit.

The base is always a snapshot file, mapped, so every worker shares its pages and the
memory does not grow with the workers: the published FILE of `--snapshot FILE
--database-url URL`, or with `--database-url` alone `snapshot.onshi` in the state
directory, which whichever worker holds `snapshot.lock` beside it (the publisher)
writes from the database when there is none and again whenever a newer one is due; the
others only map it.  Following starts after the change_log seq the file records.

LISTEN/NOTIFY wakes the follower at once; a catch-up query by seq every
FILE_POLL_SECONDS covers a missed notification, and a reconnect resumes from the last
applied seq, so nothing is lost.  Each batch of changes marks its persons dirty; the
dirty persons are re-read from the database into a small overlay snapshot
(service/db/overlay.py), built off the event loop and swapped in with one assignment:
requests in flight keep the generation they started with.

A new file at the path (renamed over it) is noticed at the next poll and becomes the
base: the changes after its seq are read again into a fresh overlay and both are
swapped in together, so what the file holds leaves the overlay and nothing made after
it is lost.  A newer file is due after what no overlay answers (an import, an insurer
change: answers turn SNAPSHOT_STALE once the bound passes, until it comes), past
FOLD_PERSONS changed persons, or FOLD_SECONDS after the base with changes; it is
logged, and the publisher (if this server has one) writes it.

While the database is unreachable the last generation keeps answering; the follower
retries with exponential backoff, and `ServiceState.synced_at` (the last successful
catch-up) tells the hot path when to add the SNAPSHOT_STALE warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Any

import asyncpg

import core_ext
from core_ext import open_snapshot, write_snapshot
from service import references
from service.db.overlay import Dirty, Overlay, read_changes, read_overlay
from service.db.pool import Database
from service.db.snapshot import read_institutions, rebuild_snapshot
from service.state import Generation, ServiceState, generation_of

log = logging.getLogger("onshi.follower")
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None)


def release_free_memory() -> None:
    """Give the freed build back to the system: glibc keeps large freed blocks in its heap
    once its mmap threshold has risen, and the publisher would hold a build's worth."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


POLL_SECONDS = 1.0
# A newer file is due once the overlay holds this many persons, or once the base is
# this old with changes; until then each change costs an overlay build only.
FOLD_PERSONS = 20_000
FOLD_SECONDS = 300.0
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 5.0
CHANNEL = "onshi_changes"
FILE_POLL_SECONDS = 0.5  # how often a followed snapshot file is looked at
STATE_SNAPSHOT = "snapshot.onshi"  # the published file in the state directory (--database-url alone)
PUBLISHER_LOCK = "snapshot.lock"  # held by the one worker that writes it


def layered_generation(
    base: Generation,
    overlay: Overlay,
    institutions: dict[str, str],
    applied_change_seq: int,
    rate_limits: dict[str, int] | None = None,
) -> Generation:
    """The base snapshot plus an overlay of changed persons (see service/db/overlay.py)."""
    impl = type(base.core)  # `base` is a full build: its core has no overlay
    index = base.core.data.insurer_index
    keys = {(index[i], s.encode(), n.encode()) for i, s, n in overlay.keys if i in index}
    return Generation(
        core=impl(
            base.core.data,
            impl(core_ext.snapshot(overlay.tables)),
            keys,
            {s.encode() for s in overlay.serials},
        ),
        institutions=institutions,
        version=f"{base.version}+{applied_change_seq}",
        persons=overlay.persons,
        qualifications=overlay.qualifications,
        loaded_at=time.time(),
        applied_change_seq=applied_change_seq,
        rate_limits=base.rate_limits if rate_limits is None else rate_limits,
    )


class Follower:
    """Keeps `state.current` in step with the database."""

    def __init__(
        self,
        database: Database,
        state: ServiceState,
        snapshot_file: str | Path,
        publish: bool = False,
        reads: Database | None = None,
    ) -> None:
        """Follow the database over `snapshot_file`; with `publish`, this worker may be the
        one that writes it (the holder of PUBLISHER_LOCK beside it).  `reads`: a standby
        for everything but LISTEN and the primary's head seq."""
        self.database = database
        self.reads = reads or database
        self.behind: int | None = None  # the primary's head seq the read side had not reached
        self.state = state
        self.snapshot_file = Path(snapshot_file)
        self.publish = publish
        self._lock_fd: int | None = None
        self.file_identity: tuple[int, int, int, int] | None = None  # of the file the base came from
        self.unserved_base = False  # a new base is set but not yet swapped in
        self.due: str | None = None  # why a newer snapshot file is needed (logged once)
        self.base: Generation | None = None  # the last full build
        self.base_built = 0.0
        self.seq = 0  # the last change_log entry answered
        self.dirty = Dirty()  # what changed since the base was built
        self.institutions: dict[str, str] = {}
        self.references_read = False  # 照会番号 are read whole once per base, then as they change
        self.rate_limits: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the first snapshot (retrying until the database answers), then follow."""
        self._task = asyncio.create_task(self._run(), name="onshi-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # another worker (or the next start) publishes from now on
            self._lock_fd = None

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            listener = None
            try:
                # LISTEN first: a change committed while the queries below run still wakes us.
                listener = await self.database.listener()
                await listener.add_listener(CHANNEL, self._notified)
                while True:
                    if listener.is_closed():
                        raise ConnectionError("the LISTEN connection closed")
                    self._wake.clear()  # before reading: a notice that comes meanwhile is kept
                    head = await self._primary_head()
                    async with self.reads.connection() as conn:
                        if self._publisher() and self._file_identity() is None:
                            await self._write_file(conn)
                        if self.base is None or self._file_identity() != self.file_identity:
                            await self._open_file()
                        if self.base is not None:  # else the publisher has not written it yet
                            await self._catch_up(conn, head)
                            if self._publisher() and self._fold_due():
                                await self._write_file(conn)
                    backoff = BACKOFF_FIRST
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any database trouble: keep serving, retry later
                log.warning("database unavailable (%s); retrying in %.1f s", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            finally:
                if listener is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(listener.close(), 1)

    @property
    def _poll_seconds(self) -> float:
        return FILE_POLL_SECONDS

    def _publisher(self) -> bool:
        """Whether this worker writes the file: it holds the lock beside it (taken once free)."""
        if not self.publish:
            return False
        if self._lock_fd is None:
            fd = os.open(self.snapshot_file.with_name(PUBLISHER_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._lock_fd = fd
            log.info("this worker publishes %s", self.snapshot_file)
        return True

    def _fold_due(self) -> bool:
        """A new file is wanted: a change no overlay answers, or an overlay too big or too old."""
        old = bool(self.dirty) and time.monotonic() - self.base_built > FOLD_SECONDS
        return self.due is not None or old

    async def _write_file(self, conn: asyncpg.Connection) -> None:
        """Rebuild the snapshot from the database and publish it (written beside, renamed over)."""
        started = time.perf_counter()
        loaded = await rebuild_snapshot(conn)
        size = await asyncio.to_thread(
            write_snapshot,
            loaded.data,
            loaded.institutions.keys,
            self.snapshot_file,
            loaded.seq,
            loaded.institutions.rate_limits,
        )
        self.due = None
        log.info(
            "snapshot written to %s in %.2f s: %d persons, %.1f MB, change seq %d",
            self.snapshot_file,
            time.perf_counter() - started,
            loaded.data.persons,
            size / 1e6,
            loaded.seq,
        )
        del loaded  # this worker maps the file like the others
        release_free_memory()

    def _file_identity(self) -> tuple[int, int, int, int] | None:
        """What tells one file at the path from another (a rename over it changes the inode)."""
        try:
            st = os.stat(self.snapshot_file)
        except OSError:
            return None  # missing meanwhile: keep the base we have
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    async def _open_file(self) -> None:
        """Make the file at the path the new base; `_catch_up` swaps it in with its overlay."""
        identity = self._file_identity()
        if identity is None:
            return  # not written yet (or moved away meanwhile: keep the base we have)
        started = time.perf_counter()
        opened = await asyncio.to_thread(open_snapshot, self.snapshot_file)
        self.base, self.base_built = generation_of(*opened), time.monotonic()
        self.file_identity = identity
        self.seq, self.dirty, self.institutions = opened.seq, Dirty(), opened.institutions
        self.references_read = False  # read whole again with the changes after this base
        self.rate_limits = opened.rate_limits
        self.unserved_base, self.due = True, None
        log.info(
            "snapshot file %s mapped in %.2f s: %d persons, %d qualifications, change seq %d",
            self.snapshot_file,
            time.perf_counter() - started,
            opened.data.persons,
            opened.data.qualifications,
            opened.seq,
        )

    def _snapshot_due(self, reason: str) -> None:
        if self.due != reason:
            self.due = reason
            log.warning("a newer snapshot file is due: %s since change seq %d", reason, self.seq)

    async def _primary_head(self) -> int | None:
        """The last change the primary has committed, read before the read side is asked
        (None without a standby: the one database is its own head)."""
        if self.reads is self.database:
            return None
        async with self.database.connection() as conn:
            head: int = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM change_log")
        return head

    async def _catch_up(self, conn: asyncpg.Connection, head: int | None = None) -> None:
        """Answer every committed change from an overlay of the dirty persons over the file;
        what no overlay answers, or an overlay grown too big, makes a newer file due."""
        while True:
            base = self.base
            assert base is not None
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                seq = await read_changes(conn, self.seq, self.dirty)
                if not self.references_read:  # a new base: whole, then as they change
                    self.state.references = await references.read_all(conn)
                    self.references_read = True
                    self.dirty.references.clear()
                if seq == self.seq:
                    break
                if seq is None or self.dirty.insurers:  # what no overlay can answer
                    self._snapshot_due("an import" if seq is None else "an insurer change")
                    self._serve_new_base()
                    self.state.overlay_persons = len(self.dirty.persons)
                    return  # not synced: SNAPSHOT_STALE once the bound passes, until a newer file
                if len(self.dirty.persons) > FOLD_PERSONS:
                    self._snapshot_due(f"{len(self.dirty.persons)} persons changed")
                if self.dirty.references:
                    await references.read_changed(conn, self.state.references, self.dirty.references)
                    self.dirty.references.clear()
                if self.dirty.institutions:
                    institutions = await read_institutions(conn)
                    self.institutions, self.rate_limits = institutions.keys, institutions.rate_limits
                    self.dirty.institutions = False
                overlay = await read_overlay(conn, base.core.data, self.dirty.persons)
            gen = await asyncio.to_thread(
                layered_generation, base, overlay, self.institutions, seq, self.rate_limits
            )
            self.seq = seq
            self.unserved_base = False
            self._swap(gen)
        self._serve_new_base()
        self.state.overlay_persons = len(self.dirty.persons)
        if head is not None and self.seq < head:
            # The standby has not replayed what the primary announced: what it has is
            # answered, but not as current (lag_seconds grows, then SNAPSHOT_STALE).
            if self.behind is None:
                log.warning("the read side is behind the primary (change seq %d of %d)", self.seq, head)
            self.behind = head
            return
        if self.behind is not None:
            log.info("the read side has caught up (change seq %d)", self.seq)
            self.behind = None
        self.state.synced_at = time.time()

    def _serve_new_base(self) -> None:
        """A new file with no change after it is served as it is."""
        if self.unserved_base and self.base is not None:
            self.unserved_base = False
            self._swap(self.base)

    def _swap(self, gen: Generation) -> None:
        previous = self.state.current
        if previous is not None:
            gen.core.carry_counts(previous.core)
        self.state.current = gen  # synced_at is set once a catch-up has seen every change
