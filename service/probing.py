"""Limits on number-path misses: finding a birthdate by trying them must not work.

The number path discloses a member to anyone who knows the key printed on the card and
the birthdate.  Everyone who holds a clinic key and a card can guess birthdates, so:

- an institution's number-path misses (`NOT_FOUND`, batch items one by one) are counted
  per hour; once `ONSHI_MISS_LIMIT` are used up, its number-path requests are answered
  429 until the count has drained (a GCRA clock: an hour's allowance, draining
  evenly), while its card path keeps working;
- each birthdate mismatch on an existing key (core_ext._logline: a `NOT_FOUND` line that
  names the key's persons) counts against those persons for that institution, per day in
  Japan; after `ONSHI_KEY_MISS_LIMIT` of them, that institution's number-path requests
  that reach those persons (hit or miss) are answered 429 until midnight in Japan, like
  a PIN lock.  A batch that reaches one is refused whole (its records cannot be told
  apart by item; a batch carrying a locked key is itself the probe).

Both are decided after the core has answered (the contract's order puts this 429 after
403), from the records the decision wrote; a refused decision's records are dropped with
its answer, since it disclosed nothing.  The counts live in a file of the state
directory every worker maps (service/sharedslots.py), so workers share them.  Log lines
name the institution only, never a key, person or birthdate.
"""

from __future__ import annotations

import hashlib
import logging
import math
import struct
import time
from pathlib import Path

from service.clock import TOKYO_OFFSET
from service.metrics import PROBES, REFUSALS
from service.ratelimit import slot_key
from service.sharedslots import SharedSlots

HOUR = 3600.0
DAY = 86400
# code, misses' clock, and until when one of its keys is locked (the next midnight in Japan)
INSTITUTION_SLOT = struct.Struct("<16sdd")
INSTITUTION_SLOTS = 1 << 19  # as service/ratelimit.py: over twice the nation's institutions
PERSON_SLOT = struct.Struct("<16sii")  # digest of (institution, person id), day, mismatches that day
PERSON_SLOTS = 1 << 20
PERSON_PROBES = 512  # a full neighbourhood counts as locked: refusing is the safe failure
MISSES_AT, LOCKED_UNTIL = 16, 24
DAY_AT = 16
NOT_FOUND_ANSWER = b'"code":"NOT_FOUND"'  # JSON escapes every quote inside a string value
MISS_LINE = b",NOT_FOUND,"  # in an access-log line (core_ext._logline): no other field has commas
CARD = b",myna_card,"

log = logging.getLogger("onshi.probing")


class ProbeGuard:
    """Counts number-path misses per institution and birthdate mismatches per person."""

    def __init__(self, state_dir: Path, miss_limit: int | None, key_miss_limit: int | None) -> None:
        self.miss_limit = miss_limit
        self.key_miss_limit = key_miss_limit
        self._institutions = SharedSlots(
            state_dir / "probe-institutions.bin", INSTITUTION_SLOTS, INSTITUTION_SLOT.size
        )
        self._persons = SharedSlots(state_dir / "probe-persons.bin", PERSON_SLOTS, PERSON_SLOT.size)
        # The institution slots' clocks as an array, and where each institution's misses'
        # clock is in it (its lock's clock follows): `quiet`, which the hot path inlines,
        # reads them unlocked on every request.
        self.clocks = memoryview(self._institutions.map).cast("d")
        self.clock_at: dict[str, int] = {}

    def close(self) -> None:
        self.clocks.release()
        self._institutions.close()
        self._persons.close()

    def quiet(self, institution: str, records: bytearray, start: int, now: float) -> bool:
        """Whether there is nothing to count or refuse (the common case; service/hotpath.py
        makes the same test inline, a call costing as much as the test)."""
        at = self.clock_at.get(institution)
        clocks = self.clocks
        return (
            at is not None
            and clocks[at] - HOUR <= now
            and clocks[at + 1] <= now
            and records.find(MISS_LINE, start) < 0
        )

    def review(
        self, institution: str, answer: bytes, records: bytearray, start: int, now: float | None = None
    ) -> int:
        """After a decision: 0 to answer it, else the seconds to put in Retry-After.

        `answer` is the 200 body, `records[start:]` the access-log lines the decision wrote."""
        now = time.time() if now is None else now
        offset = self._slot(institution)
        misses_at = self.clocks[(offset + MISSES_AT) >> 3]
        locked_until = self.clocks[(offset + LOCKED_UNTIL) >> 3]
        if locked_until <= now and misses_at - now <= HOUR and records.find(MISS_LINE, start) < 0:
            return 0  # nearly every request: nothing to count, nothing locked
        today = int(now + TOKYO_OFFSET) // DAY
        misses = answer.count(NOT_FOUND_ANSWER)
        number_lines = [line for line in bytes(records[start:]).splitlines() if CARD not in line]
        if not number_lines:
            return 0  # the card path is never limited here
        if self.miss_limit and misses_at - now > HOUR:
            REFUSALS["miss_limit"] += 1
            return max(1, math.ceil(misses_at - now - HOUR))
        if (
            self.key_miss_limit
            and locked_until > now
            and self._reaches_locked(institution, number_lines, today)
        ):
            REFUSALS["key_locked"] += 1
            return max(1, math.ceil(locked_until - now))  # until midnight in Japan
        if misses:
            self._count_misses(institution, offset, misses, number_lines, today, now)
        return 0

    def _reaches_locked(self, institution: str, lines: list[bytes], today: int) -> bool:
        for person in _persons(lines):
            count = self._mismatches(institution, person, today, claim=False)
            if count is None or count >= self.key_miss_limit:  # type: ignore[operator]
                return True
        return False

    def _count_misses(
        self, institution: str, offset: int, misses: int, lines: list[bytes], today: int, now: float
    ) -> None:
        PROBES["number_path_misses"] += misses
        mismatched = [p for line in lines if b",NOT_FOUND," in line and (p := _person(line))]
        PROBES["birthdate_mismatches"] += len(mismatched)
        locked = False
        if self.key_miss_limit:
            for person in mismatched:
                count = self._mismatches(institution, person, today, claim=True)
                if count == self.key_miss_limit:
                    locked = True
                    PROBES["keys_locked"] += 1
        table = self._institutions
        with table.locked(offset):
            misses_at = self.clocks[(offset + MISSES_AT) >> 3]
            if self.miss_limit:
                was_over = misses_at - now > HOUR
                misses_at = max(misses_at, now) + misses * HOUR / self.miss_limit
                struct.pack_into("<d", table.map, offset + MISSES_AT, misses_at)
                if not was_over and misses_at - now > HOUR:
                    log.warning(
                        "institution %s: number-path misses over the hourly limit; number path refused",
                        institution,
                    )
            if locked:  # until the next midnight in Japan
                midnight = now + DAY - (now + TOKYO_OFFSET) % DAY
                struct.pack_into("<d", table.map, offset + LOCKED_UNTIL, midnight)
        if locked:
            log.warning("institution %s: a key locked for today after wrong birthdates", institution)

    def _mismatches(self, institution: str, person: bytes, today: int, claim: bool) -> int | None:
        """Today's mismatches against (institution, person); counted one more if `claim`.

        None: no slot could be had (a full neighbourhood), which counts as locked."""
        table = self._persons
        key = hashlib.blake2b(institution.encode() + b"\0" + person, digest_size=16).digest()

        def stale(offset: int) -> bool:
            return bool(struct.unpack_from("<i", table.map, offset + DAY_AT)[0] != today)

        with table.locked(0, 1):  # the whole table, one process at a time: stale slots are reused
            try:
                offset = table.find(key, claim, stale, PERSON_PROBES, held=True)
            except RuntimeError:
                return None
            if offset is None:
                return 0
            _, day, count = PERSON_SLOT.unpack_from(table.map, offset)
            if day != today:
                count = 0
            if claim:
                count += 1
                struct.pack_into("<ii", table.map, offset + DAY_AT, today, count)
            return int(count)

    def _slot(self, institution: str) -> int:
        """The byte offset of the institution's slot (kept as where its clock is)."""
        at = self.clock_at.get(institution)
        if at is None:
            offset = self._institutions.claim(slot_key(institution))
            at = self.clock_at[institution] = (offset + MISSES_AT) >> 3
        return (at << 3) - MISSES_AT


def _person(line: bytes) -> bytes:
    """The person id of an access-log line (core_ext._logline), or b""."""
    return line.split(b",")[5]


def _persons(lines: list[bytes]) -> set[bytes]:
    return {person for line in lines if (person := _person(line))}
