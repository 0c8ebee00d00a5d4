"""Bulk jobs (POST /v1/bulk, OQSmuquc01/02, OQSmuimm01/02): accepted at once, decided in the background.

A job is its accepted items (one JSON document each, in order), its results once decided
(one each, in the same order, as the JSON batch API gives them), and a few facts: its
institution, counts, status.  Its id (128 random bits) is the national `ReceptionNumber`.
Two stores hold jobs: `FileJobStore` in the state directory (the default), and
`service.bulkdb.DatabaseJobStore` in PostgreSQL when the server follows a database, so
that any replica can answer a poll.

The worker that accepted a job decides it (`BulkRunner`), `STEP` items at a time,
through the hot path's own decision (access log, rate and probing limits included),
yielding to the event loop between steps so that single confirmations keep their
latency.  It holds the job's claim meanwhile (a `flock`, or a lease in PostgreSQL); each
step's results and the progress are saved together, so a worker that stops loses at most
the step under way: any worker asked about a running job whose claim is free takes it
over from there.  Jobs are answered only to their institution, for 24 hours.
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
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from service.hotpath import HotPath

log = logging.getLogger("onshi.bulk")

MAX_ITEMS = 1_000_000
STEP = 1_000  # items per decision: about 5-10 ms of the core and the step's saving
KEEP_SECONDS = 24 * 3600
ID_HEX = 32
RUNNING = "running"
DONE = "done"
CONFIRMATION = "confirmation"
REGISTRATION = "registration"  # OQSmuimm01: 照会番号, decided as they are accepted
# The answer of an item the probing limits refused (nothing was disclosed).
REFUSED_ITEM = {
    "error": {
        "code": "RATE_LIMITED",
        "message": "照会の回数が上限を超えたため、この項目は照会していません。"
        "時間をおいて再度照会してください。",
    }
}
RETRY_SECONDS = 1.0  # a step the access log could not record is tried again after this
READ_CHUNK = 1 << 20


@dataclass
class Job:
    id: str
    institution: str
    items: int
    processed: int
    status: str
    accepted_at: float
    request_id: str
    kind: str = CONFIRMATION

    @property
    def expires_at(self) -> float:
        return self.accepted_at + KEEP_SECONDS


def new_job_id() -> str:
    return secrets.token_hex(ID_HEX // 2)


def is_job_id(job_id: str) -> bool:
    return len(job_id) == ID_HEX and all(c in "0123456789abcdef" for c in job_id)


@dataclass
class Claim:
    """The right to decide a job, held by one worker: its common fields and progress."""

    job: Job
    common: dict[str, Any]
    handle: Any = None  # the store's own (open files and lock, or nothing)
    extra: dict[str, Any] = field(default_factory=dict)


class JobStore(ABC):
    """Where jobs are kept; every method may be called from any worker."""

    @abstractmethod
    async def create(
        self, institution: str, common: dict[str, Any], items: list[Any], request_id: str
    ) -> Job: ...

    @abstractmethod
    async def create_done(self, institution: str, results: list[Any], request_id: str, kind: str) -> Job: ...

    @abstractmethod
    async def find(self, institution: str, job_id: str) -> Job | None:
        """The job if it is this institution's and not expired; None otherwise (another's too)."""

    @abstractmethod
    async def claim(self, job_id: str) -> Claim | None:
        """Exclusive right to decide a running job; None if another worker holds it or it is done."""

    @abstractmethod
    async def next_items(self, claim: Claim, count: int) -> list[Any]:
        """The next `count` undecided items (in order)."""

    @abstractmethod
    async def save_step(self, claim: Claim, results: list[bytes]) -> None:
        """Append a step's results (one JSON document each) and its progress, together."""

    @abstractmethod
    async def finish(self, claim: Claim) -> None: ...

    @abstractmethod
    async def release(self, claim: Claim) -> None: ...

    @abstractmethod
    def results_bytes(self, job: Job) -> AsyncIterator[bytes]:
        """The results as NDJSON, in pieces."""

    @abstractmethod
    async def results(self, job: Job) -> list[Any]: ...

    @abstractmethod
    async def items(self, job: Job) -> list[Any]: ...


class FileJobStore(JobStore):
    """Jobs in `<state dir>/bulk/<id>/`: meta.json, items.ndjson (the common fields first),
    results.part while deciding, results.ndjson once done; `lock` is flocked by the decider."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "bulk"

    def _folder(self, job_id: str) -> Path | None:
        return self.root / job_id if is_job_id(job_id) else None

    async def create(
        self, institution: str, common: dict[str, Any], items: list[Any], request_id: str
    ) -> Job:
        return await asyncio.to_thread(self._create, institution, common, items, request_id)

    def _create(self, institution: str, common: dict[str, Any], items: list[Any], request_id: str) -> Job:
        folder = self._new_folder()
        with open(folder / "items.ndjson", "wb", opener=_private) as out:
            out.write(orjson.dumps(common) + b"\n")
            for item in items:
                out.write(orjson.dumps(item) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        job = Job(folder.name, institution, len(items), 0, RUNNING, time.time(), request_id)
        self._write_meta(folder, job, 0)  # last: a job without meta is not one
        return job

    async def create_done(self, institution: str, results: list[Any], request_id: str, kind: str) -> Job:
        return await asyncio.to_thread(self._create_done, institution, results, request_id, kind)

    def _create_done(self, institution: str, results: list[Any], request_id: str, kind: str) -> Job:
        folder = self._new_folder()
        _write_synced(folder / "results.ndjson", b"".join(orjson.dumps(r) + b"\n" for r in results))
        job = Job(folder.name, institution, len(results), len(results), DONE, time.time(), request_id, kind)
        self._write_meta(folder, job, 0)
        return job

    def _new_folder(self) -> Path:
        self._sweep()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = self.root / new_job_id()
        folder.mkdir(mode=0o700)
        return folder

    def _write_meta(self, folder: Path, job: Job, results_bytes: int) -> None:
        temporary = folder / "meta.json.tmp"
        with open(temporary, "wb", opener=_private) as out:
            out.write(orjson.dumps({**job.__dict__, "results_bytes": results_bytes}))
        os.replace(temporary, folder / "meta.json")

    def _read_meta(self, folder: Path) -> dict[str, Any] | None:
        try:
            meta: dict[str, Any] = orjson.loads((folder / "meta.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return meta

    async def find(self, institution: str, job_id: str) -> Job | None:
        folder = self._folder(job_id)
        meta = None if folder is None else self._read_meta(folder)
        if meta is None or meta["institution"] != institution:
            return None
        meta.pop("results_bytes", None)
        job = Job(**meta)
        return None if job.expires_at < time.time() else job

    def _sweep(self) -> None:
        """Remove jobs accepted more than 24 hours ago."""
        if not self.root.is_dir():
            return
        limit = time.time() - KEEP_SECONDS
        for folder in self.root.iterdir():
            meta = self._read_meta(folder)
            started = meta["accepted_at"] if meta else folder.stat().st_mtime
            if started < limit:
                shutil.rmtree(folder, ignore_errors=True)

    async def claim(self, job_id: str) -> Claim | None:
        folder = self._folder(job_id)
        if folder is None:
            return None
        lock = open(folder / "lock", "a+b", opener=_private)  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            return None  # another worker decides it
        meta = self._read_meta(folder)
        if meta is None or meta["status"] != RUNNING:
            lock.close()
            return None
        results_bytes = meta.pop("results_bytes")
        job = Job(**meta)
        source = open(folder / "items.ndjson", "rb")  # noqa: SIM115
        out = open(folder / "results.part", "ab", opener=_private)  # noqa: SIM115
        out.truncate(results_bytes)  # a step written after the last meta is decided again
        common = orjson.loads(source.readline())
        for _ in range(job.processed):
            source.readline()
        return Claim(job, common, (lock, source, out))

    async def next_items(self, claim: Claim, count: int) -> list[Any]:
        source: IO[bytes] = claim.handle[1]
        return [orjson.loads(source.readline()) for _ in range(count)]

    async def save_step(self, claim: Claim, results: list[bytes]) -> None:
        out: IO[bytes] = claim.handle[2]
        out.write(b"".join(result + b"\n" for result in results))
        out.flush()
        claim.job.processed += len(results)
        self._write_meta(self.root / claim.job.id, claim.job, out.tell())

    async def finish(self, claim: Claim) -> None:
        out: IO[bytes] = claim.handle[2]
        os.fsync(out.fileno())
        folder = self.root / claim.job.id
        os.replace(folder / "results.part", folder / "results.ndjson")
        claim.job.status = DONE
        self._write_meta(folder, claim.job, 0)

    async def release(self, claim: Claim) -> None:
        for handle in reversed(claim.handle):
            handle.close()

    async def results_bytes(self, job: Job) -> AsyncIterator[bytes]:
        with open(self.root / job.id / "results.ndjson", "rb") as results:
            while chunk := await asyncio.to_thread(results.read, READ_CHUNK):
                yield chunk

    async def results(self, job: Job) -> list[Any]:
        return await asyncio.to_thread(self._lines, self.root / job.id / "results.ndjson", 0)

    async def items(self, job: Job) -> list[Any]:
        return await asyncio.to_thread(self._lines, self.root / job.id / "items.ndjson", 1)

    @staticmethod
    def _lines(path: Path, skip: int) -> list[Any]:
        with open(path, "rb") as source:
            return [orjson.loads(line) for i, line in enumerate(source) if i >= skip]


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def _write_synced(path: Path, content: bytes) -> None:
    with open(path, "wb", opener=_private) as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())


class BulkRunner:
    """Decides jobs in the background of one worker."""

    def __init__(self, hot: HotPath, store: JobStore) -> None:
        self.hot = hot
        self.store = store
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, job: Job) -> None:
        """Decide `job` here unless this worker already does (another holding it is found at the claim)."""
        if job.status != RUNNING or job.id in self.tasks:
            return
        task = self.tasks[job.id] = asyncio.ensure_future(self._run(job.id))
        task.add_done_callback(lambda _: self.tasks.pop(job.id, None))

    async def stop(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, job_id: str) -> None:
        claim = None
        try:
            claim = await self.store.claim(job_id)
            if claim is None:
                return  # another worker decides it, or it is done
            if claim.job.processed:
                log.warning("bulk job taken up again after %d items", claim.job.processed)
            job = claim.job
            while job.processed < job.items:
                step = await self.store.next_items(claim, min(STEP, job.items - job.processed))
                answers = await self._decide_step(job, claim.common, step)
                await self.store.save_step(claim, [orjson.dumps(answer) for answer in answers])
                await asyncio.sleep(0)  # let waiting single confirmations be answered
            await self.store.finish(claim)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("bulk job failed; it is taken up again when asked about")
        finally:
            if claim is not None:
                with contextlib.suppress(Exception):
                    await self.store.release(claim)

    async def _decide_step(self, job: Job, common: dict[str, Any], step: list[Any]) -> list[Any]:
        rid = f"{job.request_id[:100]}:{job.processed // STEP}"
        status, answer = await self._decide(job, common, step, rid)
        if status == 429 and len(step) > 1:
            # The probing limits refused the step whole (a locked key in it): decide its
            # items one by one, so that only those reaching the locked key are refused.
            return [(await self._decide_step(job, common, [item]))[0] for item in step]
        if status == 200:
            results: list[Any] = orjson.loads(answer)["results"]
            return results
        if status == 429:
            return [REFUSED_ITEM]
        return [orjson.loads(answer)] * len(step)  # 400, 403, 422: the step's common fields

    async def _decide(
        self, job: Job, common: dict[str, Any], items: list[Any], rid: str
    ) -> tuple[int, bytes]:
        """A batch of items through the hot path; waits out what refuses to record (503)."""
        body = orjson.dumps({**common, "items": items})
        while True:
            gen = self.hot.state.current
            if gen is not None:
                status, answer, _ = self.hot._decide(gen, body, True, job.institution, rid)
                if status != 503:
                    return status, answer
            # Nothing loaded, the access log cannot record, out of memory: nothing was
            # disclosed; the same step again in a moment.
            await asyncio.sleep(RETRY_SECONDS)
