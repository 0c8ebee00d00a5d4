"""A table of fixed-size slots in a file of the state directory that every worker maps.

Rate limits (service/ratelimit.py) and probing counts (service/probing.py) must be
counted across the workers of one server without a process to ask: each keeps its
counters in slots of such a file, found by open addressing from a CRC of a 16-byte
key, and updates one under a byte-range lock of that slot (`fcntl.lockf`), which the
kernel releases if the worker dies.

The file's blocks are allocated when it is created (`posix_fallocate`; on most file
systems a matter of metadata): a page of a mapped file first written while its disk is
full raises SIGBUS, which would kill the worker, and the state directory is also where
the access log can fill a disk.  Where allocation fails (too little space, or a file
system without it) the file stays sparse and a warning says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import zlib
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("onshi.sharedslots")
KEY = 16  # every slot starts with its key: a code, or a digest of a longer one
EMPTY = bytes(KEY)


class TableFull(RuntimeError):
    """No slot for a new key within the probes allowed."""


class SharedSlots:
    """`slots` slots of `slot_size` bytes in `path`, shared by every process that maps it."""

    def __init__(self, path: Path, slots: int, slot_size: int) -> None:
        self.slots = slots
        self.slot_size = slot_size
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # who looked whom up: ours alone
        size = slots * slot_size
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)
        try:
            os.posix_fallocate(self._fd, 0, size)
        except OSError as exc:
            log.warning(
                "%s not preallocated (%s): should its disk fill up, a worker writing a new slot would die",
                path,
                exc.strerror,
            )
        self.map = mmap.mmap(self._fd, size)

    def close(self) -> None:
        self.map.close()
        os.close(self._fd)

    def locked(self, offset: int, length: int | None = None) -> _Locked:
        """An exclusive lock on `length` bytes at `offset` (default: the slot there)."""
        return _Locked(self._fd, offset, self.slot_size if length is None else length)

    def claim(self, key: bytes) -> int:
        """The offset of `key`'s slot, taking one for it if it has none (see `find`)."""
        offset = self.find(key)
        assert offset is not None  # find() claims or raises TableFull
        return offset

    def find(
        self,
        key: bytes,
        claim: bool = True,
        free: Callable[[int], bool] | None = None,
        probes: int | None = None,
        held: bool = False,
    ) -> int | None:
        """The offset of `key`'s slot; None if absent and not `claim`ed.

        A new key takes the first empty slot on its path, or with `free` the first one
        `free(offset)` says may be reused; the caller then must hold a lock on the whole
        table (`held`: no slot needs a lock of its own), which keeps the path stable."""
        key = key.ljust(KEY, b"\0")
        index = zlib.crc32(key) % self.slots
        reuse = None
        for _ in range(self.slots if probes is None else probes):
            offset = index * self.slot_size
            with contextlib.nullcontext() if held else self.locked(offset):
                found = self.map[offset : offset + KEY]
                if found == key:
                    return offset
                if found == EMPTY:
                    if not claim:
                        return None
                    if reuse is None:
                        self.map[offset : offset + KEY] = key
                        return offset
                    break
            if reuse is None and free is not None and free(offset):
                reuse = offset
            index = (index + 1) % self.slots
        if claim and reuse is not None:
            self.map[reuse : reuse + self.slot_size] = key + bytes(self.slot_size - KEY)
            return reuse
        if claim:
            raise TableFull(f"no free slot within {probes or self.slots} of the key's")
        return None


class _Locked:
    __slots__ = ("fd", "length", "offset")

    def __init__(self, fd: int, offset: int, length: int) -> None:
        self.fd = fd
        self.offset = offset
        self.length = length

    def __enter__(self) -> None:
        fcntl.lockf(self.fd, fcntl.LOCK_EX, self.length, self.offset)

    def __exit__(self, *exc: object) -> None:
        fcntl.lockf(self.fd, fcntl.LOCK_UN, self.length, self.offset)
