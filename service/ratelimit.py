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

import hashlib
import math
import struct
import time
from pathlib import Path

from service.metrics import REFUSALS
from service.sharedslots import SharedSlots

SLOT = struct.Struct("<16sdd")  # the code (or a digest of a longer one), then the two clocks
SLOTS = 1 << 19  # over twice Japan's ~240,000 clinics and pharmacies; a 16 MiB file
FILE_NAME = "rate-limits.bin"
REQUESTS_AT, ITEMS_AT = 16, 24  # the clocks' offsets within a slot
ITEM_WINDOW = 60.0  # ONSHI_RATE_LIMIT_ITEMS is per minute, and a minute's worth may burst


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
        # Whether every request must be admitted: else only an institution's own rate does.
        self.engaged = rate is not None or items_per_minute is not None
        self._table = SharedSlots(state_dir / FILE_NAME, SLOTS, SLOT.size)
        self._map = self._table.map
        self._slots: dict[str, int] = {}

    def close(self) -> None:
        self._table.close()

    def admit(self, institution: str, now: float | None = None, own_rate: int | None = None) -> int:
        """0 when a request may go on, else the whole seconds to wait (Retry-After).

        `own_rate`: the institution's own requests per second (its `rate_limit` column),
        in place of the server's, bursting one second's worth of it."""
        rate = self.rate if own_rate is None else own_rate
        if rate is None and self.items_per_minute is None:
            return 0
        now = time.time() if now is None else now
        offset = self._slot(institution)
        with self._table.locked(offset):
            _, requests_at, items_at = SLOT.unpack_from(self._map, offset)
            if self.items_per_minute is not None and items_at - now > ITEM_WINDOW:
                REFUSALS["rate_items"] += 1
                return _seconds(items_at - now - ITEM_WINDOW)
            if rate is None:
                return 0
            interval = 1.0 / rate
            burst = rate if self.burst is None or own_rate is not None else self.burst
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
        with self._table.locked(offset):
            (items_at,) = struct.unpack_from("<d", self._map, offset + ITEMS_AT)
            struct.pack_into(
                "<d", self._map, offset + ITEMS_AT, max(items_at, now) + items * 60.0 / self.items_per_minute
            )

    def _slot(self, institution: str) -> int:
        offset = self._slots.get(institution)
        if offset is None:
            offset = self._slots[institution] = self._table.claim(slot_key(institution))
        return offset


def slot_key(institution: str) -> bytes:
    """An institution's 16-byte slot key: its code, or a digest of a longer one."""
    code = institution.encode()
    return hashlib.blake2b(code, digest_size=16).digest() if len(code) > 16 else code


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))
