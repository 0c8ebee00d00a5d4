"""Each institution's feed of its card-path answers (GET /v1/confirmations/feed, server-sent events).

In the national flow the result of a card check at the face-authentication reader reaches
the reception system unrequested (the `face` folder); this feed is Onshi's way to the same
moment.  With ONSHI_FEED on, every answered single card-path confirmation (presented
`myna_card`) is appended, as its JSON answer, to `<state dir>/feed/<institution>/<day>.ndjson`
(one file per day in Japan, 0600, kept for KEEP_DAYS days), by whichever worker answered it;
a subscriber, on any worker, follows its institution's files from where it left off.

An event's id is `<day>-<offset>`: the file and the byte offset just past the answer, so
`Last-Event-ID` resumes exactly after the last event received, across workers and restarts.
Without one, a subscription starts at the end (what comes next).  The answers hold personal
data: they are sent only to the institution's own key, and the files are the state
directory's (0700).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

from service.clock import TOKYO_OFFSET

KEEP_DAYS = 2
POLL_SECONDS = 0.1  # how often a subscriber looks for new answers
KEEPALIVE_SECONDS = 15.0
EVENT_ID = re.compile(r"^(\d{8})-(\d{1,15})$")


def tokyo_day(now: float | None = None) -> str:
    return time.strftime("%Y%m%d", time.gmtime((time.time() if now is None else now) + TOKYO_OFFSET))


class Feed:
    """Appends answers to the feed files; subscribers read them with `follow`."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "feed"
        self._open: dict[str, tuple[str, int]] = {}  # institution -> (day, descriptor)

    def append(self, institution: str, answer: bytes) -> None:
        """One answer, one write (O_APPEND: whole lines, whichever worker writes)."""
        day = tokyo_day()
        held = self._open.get(institution)
        if held is None or held[0] != day:
            if held is not None:
                os.close(held[1])
            held = (day, self._open_day(institution, day))
            self._open[institution] = held
        os.write(held[1], answer + b"\n")

    def _open_day(self, institution: str, day: str) -> int:
        folder = self.root / institution
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        for old in sorted(folder.glob("*.ndjson"))[:-KEEP_DAYS]:
            old.unlink(missing_ok=True)
        return os.open(folder / f"{day}.ndjson", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def start_of(self, institution: str, last_event_id: str | None) -> tuple[str, int]:
        """Where a subscription begins: just after `last_event_id`, else at the end of today."""
        if last_event_id is not None and (found := EVENT_ID.match(last_event_id)):
            return found.group(1), int(found.group(2))
        day = tokyo_day()
        path = self.root / institution / f"{day}.ndjson"
        return day, path.stat().st_size if path.exists() else 0

    async def follow(
        self, institution: str, day: str, offset: int, stopping: asyncio.Event | None = None
    ) -> AsyncIterator[tuple[str, bytes] | None]:
        """(event id, answer) as answers arrive; None now and then to keep the connection alive."""
        folder = self.root / institution
        quiet_since = time.monotonic()
        while stopping is None or not stopping.is_set():
            path = folder / f"{day}.ndjson"
            sent = False
            if path.exists():
                with open(path, "rb") as source:
                    source.seek(offset)
                    while (line := source.readline()).endswith(b"\n"):
                        offset += len(line)
                        sent = True
                        yield f"{day}-{offset}", line[:-1]
            if not sent:
                later = (
                    sorted(p.stem for p in folder.glob("*.ndjson") if p.stem > day) if folder.is_dir() else []
                )
                if later:  # the day turned: go on with the next file
                    day, offset = later[0], 0
                    continue
                if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                    quiet_since = time.monotonic()
                    yield None
                await asyncio.sleep(POLL_SECONDS)
            else:
                quiet_since = time.monotonic()
