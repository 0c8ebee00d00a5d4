"""Bulk confirmation jobs (POST /v1/bulk, OQSmuquc01/02): accepted at once, decided in the background.

A job is a directory under `<state dir>/bulk/` named by its id (128 random bits, the
national `ReceptionNumber`): `meta.json` (institution, counts, status), `items.ndjson`
(what was accepted, one item a line), and `results.ndjson` once done (one result a line,
in order, each as the JSON batch API gives it).  The worker that accepted a job decides it
in steps of `STEP` items through the hot path's own decision (access log, rate and
probing limits included), yielding to the event loop between steps so that single
confirmations keep their latency; it holds an exclusive `flock` on `lock` meanwhile.
Any worker asked about a running job whose lock is free (its worker died) takes it over
from the last step recorded.  Jobs are answered only to their institution and are
removed 24 hours after they were accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from service.hotpath import HotPath

log = logging.getLogger("onshi.bulk")

MAX_ITEMS = 1_000_000
STEP = 1_000  # items per decision: about 10 ms of the core, so single answers wait at most that
KEEP_SECONDS = 24 * 3600
ID_HEX = 32
RUNNING = "running"
DONE = "done"
CONFIRMATION = "confirmation"
# The answer of an item of a step the probing limits refused (nothing was disclosed).
REFUSED_ITEM = {
    "error": {
        "code": "RATE_LIMITED",
        "message": "照会の回数が上限を超えたため、この項目は照会していません。"
        "時間をおいて再度照会してください。",
    }
}
RETRY_SECONDS = 1.0  # a step the access log could not record is tried again after this


@dataclass
class Job:
    id: str
    institution: str
    items: int
    processed: int
    status: str
    accepted_at: float
    request_id: str
    kind: str = CONFIRMATION  # or "registration" (OQSmuimm01: 照会番号, decided when accepted)

    @property
    def expires_at(self) -> float:
        return self.accepted_at + KEEP_SECONDS


class BulkStore:
    """The jobs of one state directory (shared by the workers of a server)."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "bulk"

    def _dir(self, job_id: str) -> Path | None:
        if len(job_id) != ID_HEX or not all(c in "0123456789abcdef" for c in job_id):
            return None
        return self.root / job_id

    def create(self, institution: str, common: dict[str, Any], items: list[Any], request_id: str) -> Job:
        """Store an accepted job (items first, then its meta: a job without meta is not one)."""
        self.sweep()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        job_id = secrets.token_hex(ID_HEX // 2)
        folder = self.root / job_id
        folder.mkdir(mode=0o700)
        with open(folder / "items.ndjson", "wb", opener=_private) as out:
            out.write(orjson.dumps(common) + b"\n")
            for item in items:
                out.write(orjson.dumps(item) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        job = Job(job_id, institution, len(items), 0, RUNNING, time.time(), request_id)
        self.write_meta(folder, job, 0)
        return job

    def create_done(
        self, institution: str, results: list[Any], request_id: str, kind: str = "registration"
    ) -> Job:
        """Store a job decided as it was accepted: its results only."""
        self.sweep()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        job = Job(
            secrets.token_hex(ID_HEX // 2),
            institution,
            len(results),
            len(results),
            DONE,
            time.time(),
            request_id,
            kind,
        )
        folder = self.root / job.id
        folder.mkdir(mode=0o700)
        with open(folder / "results.ndjson", "wb", opener=_private) as out:
            out.write(b"".join(orjson.dumps(result) + b"\n" for result in results))
            out.flush()
            os.fsync(out.fileno())
        self.write_meta(folder, job, 0)
        return job

    def results(self, job: Job) -> list[Any]:
        with open(self.results_path(job), "rb") as source:
            return [orjson.loads(line) for line in source]

    def write_meta(self, folder: Path, job: Job, results_bytes: int) -> None:
        temporary = folder / "meta.json.tmp"
        with open(temporary, "wb", opener=_private) as out:
            out.write(orjson.dumps({**job.__dict__, "results_bytes": results_bytes}))
        os.replace(temporary, folder / "meta.json")

    def read_meta(self, folder: Path) -> dict[str, Any] | None:
        try:
            meta: dict[str, Any] = orjson.loads((folder / "meta.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return meta

    def find(self, institution: str, job_id: str) -> Job | None:
        """The job, if it is this institution's and not expired; None otherwise (also for another's)."""
        folder = self._dir(job_id)
        meta = None if folder is None else self.read_meta(folder)
        if meta is None or meta["institution"] != institution:
            return None
        meta.pop("results_bytes", None)
        job = Job(**meta)
        return None if job.expires_at < time.time() else job

    def results_path(self, job: Job) -> Path:
        return self.root / job.id / "results.ndjson"

    def sweep(self) -> None:
        """Remove jobs accepted more than 24 hours ago."""
        if not self.root.is_dir():
            return
        limit = time.time() - KEEP_SECONDS
        for folder in self.root.iterdir():
            meta = self.read_meta(folder)
            started = meta["accepted_at"] if meta else folder.stat().st_mtime
            if started < limit:
                shutil.rmtree(folder, ignore_errors=True)


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


class BulkRunner:
    """Decides jobs in the background of one worker."""

    def __init__(self, hot: HotPath, store: BulkStore) -> None:
        self.hot = hot
        self.store = store
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, job: Job) -> None:
        if job.id not in self.tasks:
            self.tasks[job.id] = asyncio.ensure_future(self._run(job.id))
            self.tasks[job.id].add_done_callback(lambda _: self.tasks.pop(job.id, None))

    def adopt_if_orphaned(self, job: Job) -> None:
        """Take over a running job whose worker is gone (its lock is free)."""
        if job.status != RUNNING or job.id in self.tasks:
            return
        lock_path = self.store.root / job.id / "lock"
        with open(lock_path, "a+b", opener=_private) as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # its worker is still at it
            fcntl.flock(probe, fcntl.LOCK_UN)
        log.warning("bulk job taken over from a worker that stopped")
        self.start(job)

    async def stop(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, job_id: str) -> None:
        folder = self.store.root / job_id
        lock = open(folder / "lock", "a+b", opener=_private)  # noqa: SIM115 (held for the whole run)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another worker runs it
            meta = self.store.read_meta(folder)
            if meta is None or meta["status"] != RUNNING:
                return
            await self._decide_all(folder, meta)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("bulk job failed; it is taken up again when asked about")
        finally:
            lock.close()

    async def _decide_all(self, folder: Path, meta: dict[str, Any]) -> None:
        results_bytes = meta.pop("results_bytes")
        job = Job(**meta)
        with (
            open(folder / "items.ndjson", "rb") as source,
            open(folder / "results.part", "ab", opener=_private) as out,
        ):
            out.truncate(results_bytes)  # a step written after the last meta is decided again
            common = orjson.loads(source.readline())
            for _ in range(job.processed):
                source.readline()
            while job.processed < job.items:
                step = [orjson.loads(source.readline()) for _ in range(min(STEP, job.items - job.processed))]
                answers = await self._decide_step(job, common, step)
                out.write(b"".join(orjson.dumps(answer) + b"\n" for answer in answers))
                out.flush()
                job.processed += len(step)
                self.store.write_meta(folder, job, out.tell())
                await asyncio.sleep(0)  # let waiting single confirmations be answered
            os.fsync(out.fileno())
        os.replace(folder / "results.part", folder / "results.ndjson")
        job.status = DONE
        self.store.write_meta(folder, job, 0)

    async def _decide_alone(self, job: Job, common: dict[str, Any], item: Any, rid: str) -> Any:
        body = orjson.dumps({**common, "items": [item]})
        while True:
            gen = self.hot.state.current
            status, answer, _ = (
                (503, b"", 0) if gen is None else self.hot._decide(gen, body, True, job.institution, rid)
            )
            if status == 200:
                return orjson.loads(answer)["results"][0]
            if status == 429:
                return REFUSED_ITEM
            if status in (400, 403, 422):
                return orjson.loads(answer)
            await asyncio.sleep(RETRY_SECONDS)

    async def _decide_step(self, job: Job, common: dict[str, Any], step: list[Any]) -> list[Any]:
        body = orjson.dumps({**common, "items": step})
        rid = f"{job.request_id[:100]}:{job.processed // STEP}"
        while True:
            gen = self.hot.state.current
            if gen is None:
                await asyncio.sleep(RETRY_SECONDS)
                continue
            status, answer, _ = self.hot._decide(gen, body, True, job.institution, rid)
            if status == 200:
                results: list[Any] = orjson.loads(answer)["results"]
                return results
            if status == 429:
                # The probing limits refused the step whole (a locked key in it): decide its
                # items one by one, so that only those reaching the locked key are refused.
                return [await self._decide_alone(job, common, item, rid) for item in step]
            if status in (400, 403, 422):
                error = orjson.loads(answer)
                return [error] * len(step)
            # 503 (the access log cannot record, out of memory): nothing was disclosed; again
            await asyncio.sleep(RETRY_SECONDS)
