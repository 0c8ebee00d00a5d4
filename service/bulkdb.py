"""Bulk jobs in PostgreSQL (migration 011), for servers that follow a database.

The same jobs as `service.bulk.FileJobStore`, in two tables: `bulk_jobs` (one row a job)
and `bulk_lines` (its items and results, one JSON document a row, numbered in order), so
that every replica, not only the workers of one machine, can answer a poll.  Items and
results are written with COPY.  A deciding worker holds a lease (`lease_until`), renewed
with every step; a step's results and the progress are written in one transaction, so a
worker that stops loses at most the step under way, and another takes the job over once
the lease has run out (`LEASE_SECONDS`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from service.bulk import (
    DONE,
    KEEP_SECONDS,
    RUNNING,
    Claim,
    Job,
    JobStore,
    is_job_id,
    new_job_id,
)
from service.db.pool import Database

LEASE_SECONDS = 30
ITEM, RESULT = 0, 1
READ_ROWS = 5_000
COLUMNS = (
    "id, institution_code, kind, items, processed, status,"
    " extract(epoch FROM accepted_at) AS accepted_at, request_id"
)


def _job(row: Any) -> Job:
    return Job(
        row["id"],
        row["institution_code"],
        row["items"],
        row["processed"],
        row["status"],
        float(row["accepted_at"]),
        row["request_id"],
        row["kind"],
    )


class DatabaseJobStore(JobStore):
    def __init__(self, database: Database) -> None:
        self.database = database

    async def _insert(self, job: Job, common: dict[str, Any], lines: list[Any], kind: int) -> None:
        async with self.database.connection() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM bulk_jobs WHERE accepted_at < now() - make_interval(secs => $1)", KEEP_SECONDS
            )
            await conn.execute(
                "INSERT INTO bulk_jobs"
                " (id, institution_code, kind, items, processed, status, request_id, common)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                job.id,
                job.institution,
                job.kind,
                job.items,
                job.processed,
                job.status,
                job.request_id,
                orjson.dumps(common),
            )
            await conn.copy_records_to_table(
                "bulk_lines",
                records=((job.id, kind, n, orjson.dumps(line)) for n, line in enumerate(lines)),
                columns=("job_id", "kind", "n", "line"),
            )

    async def create(
        self, institution: str, common: dict[str, Any], items: list[Any], request_id: str
    ) -> Job:
        job = Job(new_job_id(), institution, len(items), 0, RUNNING, time.time(), request_id)
        await self._insert(job, common, items, ITEM)
        return job

    async def create_done(self, institution: str, results: list[Any], request_id: str, kind: str) -> Job:
        job = Job(new_job_id(), institution, len(results), len(results), DONE, time.time(), request_id, kind)
        await self._insert(job, {}, results, RESULT)
        return job

    async def find(self, institution: str, job_id: str) -> Job | None:
        if not is_job_id(job_id):
            return None
        async with self.database.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {COLUMNS} FROM bulk_jobs WHERE id = $1 AND institution_code = $2"
                " AND accepted_at > now() - make_interval(secs => $3)",
                job_id,
                institution,
                KEEP_SECONDS,
            )
        return None if row is None else _job(row)

    async def claim(self, job_id: str) -> Claim | None:
        async with self.database.connection() as conn:
            row = await conn.fetchrow(
                f"UPDATE bulk_jobs SET lease_until = now() + make_interval(secs => $2)"
                " WHERE id = $1 AND status = 'running' AND (lease_until IS NULL OR lease_until < now())"
                f" RETURNING {COLUMNS}, common",
                job_id,
                LEASE_SECONDS,
            )
        if row is None:
            return None
        return Claim(_job(row), orjson.loads(row["common"]))

    async def next_items(self, claim: Claim, count: int) -> list[Any]:
        start = claim.job.processed
        async with self.database.connection() as conn:
            rows = await conn.fetch(
                "SELECT line FROM bulk_lines WHERE job_id = $1 AND kind = 0 AND n >= $2 AND n < $3"
                " ORDER BY n",
                claim.job.id,
                start,
                start + count,
            )
        return [orjson.loads(row["line"]) for row in rows]

    async def save_step(self, claim: Claim, results: list[bytes]) -> None:
        job = claim.job
        async with self.database.connection() as conn, conn.transaction():
            # Results after the saved progress are a stopped worker's half step: replaced.
            await conn.execute(
                "DELETE FROM bulk_lines WHERE job_id = $1 AND kind = 1 AND n >= $2", job.id, job.processed
            )
            await conn.copy_records_to_table(
                "bulk_lines",
                records=((job.id, RESULT, job.processed + i, line) for i, line in enumerate(results)),
                columns=("job_id", "kind", "n", "line"),
            )
            await conn.execute(
                "UPDATE bulk_jobs SET processed = $2, lease_until = now() + make_interval(secs => $3)"
                " WHERE id = $1",
                job.id,
                job.processed + len(results),
                LEASE_SECONDS,
            )
        job.processed += len(results)

    async def finish(self, claim: Claim) -> None:
        async with self.database.connection() as conn:  # (the items stay: OQS answers echo them)
            await conn.execute(
                "UPDATE bulk_jobs SET status = 'done', lease_until = NULL WHERE id = $1", claim.job.id
            )
        claim.job.status = DONE

    async def release(self, claim: Claim) -> None:
        if claim.job.status != DONE:  # free at once for another worker
            async with self.database.connection() as conn:
                await conn.execute("UPDATE bulk_jobs SET lease_until = NULL WHERE id = $1", claim.job.id)

    async def _lines(self, job: Job, kind: int) -> AsyncIterator[list[bytes]]:
        """The job's lines of one kind, in order, a few thousand at a time."""
        start = 0
        while True:
            async with self.database.connection() as conn:
                rows = await conn.fetch(
                    "SELECT line FROM bulk_lines WHERE job_id = $1 AND kind = $2 AND n >= $3"
                    " ORDER BY n LIMIT $4",
                    job.id,
                    kind,
                    start,
                    READ_ROWS,
                )
            if not rows:
                return
            yield [row["line"] for row in rows]
            start += len(rows)

    async def results_bytes(self, job: Job) -> AsyncIterator[bytes]:
        async for lines in self._lines(job, RESULT):
            yield b"".join(line + b"\n" for line in lines)

    async def results(self, job: Job) -> list[Any]:
        return [orjson.loads(line) async for lines in self._lines(job, RESULT) for line in lines]

    async def items(self, job: Job) -> list[Any]:
        return [orjson.loads(line) async for lines in self._lines(job, ITEM) for line in lines]
