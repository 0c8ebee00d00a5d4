"""Per-institution rate limits, counted across every worker of one server.

Each institution has two "generic cell rate" clocks (GCRA, the leaky bucket as a single
number): the time at which its request bucket, and its batch-item bucket, will be empty
again.  A request is admitted while that time is no more than the burst ahead of now;
admitting moves it one interval on.  The clocks live in a table of fixed slots in a
file of the state directory that every worker maps, each slot updated under a
byte-range lock of its own, so the workers share one count without a process to ask:

    slot = institution code (16 bytes) | requests' clock | items' clock

Slots are found by open addressing from a CRC of the code and never move or empty, so
each worker caches where an institution's slot is.  The clocks are wall-clock seconds:
a clock left by an earlier run is in the past and counts for nothing, so the file needs
no clearing between runs.

Requests are admitted or refused before their body is read.  A batch's items cannot be
counted before it is parsed, so the item clock is checked before (refused while the
institution is more than a minute's allowance ahead) and charged after the batch is
answered: one batch may overdraw the allowance, and the institution then waits it off.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import mmap
import os
import struct
import time
import zlib
from pathlib import Path

from service.metrics import REFUSALS

SLOT = struct.Struct("<16sdd")  # the code (or a digest of a longer one), then the two clocks
SLOTS = 1 << 19  # over twice Japan's ~240,000 clinics and pharmacies; a sparse 16 MiB file
FILE_NAME = "rate-limits.bin"
EMPTY = bytes(16)
REQUESTS_AT, ITEMS_AT = 16, 24  # the clocks' offsets within a slot
ITEM_WINDOW = 60.0  # ONSHI_RATE_LIMIT_ITEMS is per minute, and a minute's worth may burst


class TableFull(RuntimeError):
    """More institutions than slots (never expected: SLOTS is over twice the nation's)."""


class RateLimiter:
    """Admits an institution's requests and batch items at configured rates.

    `rate` requests per second with bursts of `burst` (default: one second's worth);
    `items_per_minute` batch items, bursting one minute's worth.  None disables a limit.
    """

    def __init__(
        self,
        state_dir: Path,
        rate: float | None,
        burst: float | None = None,
        items_per_minute: float | None = None,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.items_per_minute = items_per_minute
        state_dir.mkdir(parents=True, exist_ok=True)
        size = SLOTS * SLOT.size
        self._fd = os.open(state_dir / FILE_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)  # zero pages, allocated only when written
        self._map = mmap.mmap(self._fd, size)
        self._slots: dict[str, int] = {}

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

    def admit(self, institution: str, now: float | None = None) -> int:
        """0 when a request may go on, else the whole seconds to wait (Retry-After)."""
        rate = self.rate
        if rate is None and self.items_per_minute is None:
            return 0
        now = time.time() if now is None else now
        offset = self._slot(institution)
        with _Locked(self._fd, offset):
            _, requests_at, items_at = SLOT.unpack_from(self._map, offset)
            if self.items_per_minute is not None and items_at - now > ITEM_WINDOW:
                REFUSALS["rate_items"] += 1
                return _seconds(items_at - now - ITEM_WINDOW)
            if rate is None:
                return 0
            interval = 1.0 / rate
            burst = rate if self.burst is None else self.burst
            due = max(requests_at, now) + interval
            if due - now > burst * interval:
                REFUSALS["rate_requests"] += 1
                return _seconds(due - now - burst * interval)
            struct.pack_into("<d", self._map, offset + REQUESTS_AT, due)
            return 0

    def charge_items(self, institution: str, items: int, now: float | None = None) -> None:
        """Count a batch's items, after it has been answered."""
        if self.items_per_minute is None or items <= 0:
            return
        now = time.time() if now is None else now
        offset = self._slot(institution)
        with _Locked(self._fd, offset):
            (items_at,) = struct.unpack_from("<d", self._map, offset + ITEMS_AT)
            struct.pack_into(
                "<d", self._map, offset + ITEMS_AT, max(items_at, now) + items * 60.0 / self.items_per_minute
            )

    def _slot(self, institution: str) -> int:
        offset = self._slots.get(institution)
        if offset is not None:
            return offset
        code = institution.encode()
        if len(code) > 16:
            code = hashlib.blake2b(code, digest_size=16).digest()
        index = zlib.crc32(code) % SLOTS
        for _ in range(SLOTS):
            offset = index * SLOT.size
            with _Locked(self._fd, offset):
                held = self._map[offset : offset + 16]
                if held == EMPTY:
                    self._map[offset : offset + 16] = code.ljust(16, b"\0")
                    break
                if held.rstrip(b"\0") == code:
                    break
            index = (index + 1) % SLOTS
        else:
            raise TableFull(f"{SLOTS} institutions already have a rate-limit slot")
        self._slots[institution] = offset
        return offset


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


class _Locked:
    """An exclusive lock on one slot's bytes, shared with the other workers."""

    __slots__ = ("fd", "offset")

    def __init__(self, fd: int, offset: int) -> None:
        self.fd = fd
        self.offset = offset

    def __enter__(self) -> None:
        fcntl.lockf(self.fd, fcntl.LOCK_EX, SLOT.size, self.offset)

    def __exit__(self, *exc: object) -> None:
        fcntl.lockf(self.fd, fcntl.LOCK_UN, SLOT.size, self.offset)
