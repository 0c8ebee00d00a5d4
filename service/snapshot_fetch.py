"""Bring the newest published snapshot file onto local disk (`onshi snapshot fetch`).

A publisher (Kubernetes: a CronJob running `onshi snapshot build`) writes versioned files
`*.snap` into a shared folder, names that sort by age (`onshi-20261203T174500Z.snap`).
Each pod copies the newest one to its own disk, where `onshi serve --snapshot FILE` maps
it: first from an init container (so no pod builds a base itself), then from a sidecar
with `--every`, which the server notices within a second.  A copy is checked (header,
checksum, bounds: `open_snapshot`) before it is renamed over FILE; a broken file is
logged and skipped, and FILE keeps serving.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from core_ext import SnapshotFileError, open_snapshot

log = logging.getLogger("onshi.snapshot")

PATTERN = "*.snap"


def newest(folder: Path) -> Path | None:
    """The published file whose name sorts last (the newest), or None."""
    files = sorted(p for p in folder.glob(PATTERN) if p.is_file())
    return files[-1] if files else None


def _same(a: Path, b: Path) -> bool:
    try:
        sa, sb = a.stat(), b.stat()
    except OSError:
        return False
    return (sa.st_size, sa.st_mtime_ns) == (sb.st_size, sb.st_mtime_ns)


def fetch_once(folder: Path, dest: Path) -> Path | None:
    """Copy the newest file of `folder` over `dest` unless `dest` already holds it; the
    file copied (None: nothing new).  Raises SnapshotFileError for a broken newest file."""
    source = newest(folder)
    if source is None or _same(source, dest):
        return None
    tmp = dest.with_name(f".{dest.name}.fetch{os.getpid()}")
    try:
        shutil.copy2(source, tmp)  # with its mtime: what `_same` compares next time
        open_snapshot(tmp)  # refuse a broken file before it replaces a good one
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("fetched %s to %s (%d bytes)", source.name, dest, dest.stat().st_size)
    return source


def fetch(folder: Path, dest: Path, every: float | None = None) -> int:
    """Once (exit 1 when there is nothing to fetch yet and `dest` is missing), or every
    `every` seconds until stopped."""
    while True:
        try:
            fetch_once(folder, dest)
        except (SnapshotFileError, OSError) as exc:
            log.error("not fetched: %s", exc)
        if every is None:
            if not dest.exists():
                log.error("no snapshot file in %s yet", folder)
                return 1
            return 0
        time.sleep(every)
