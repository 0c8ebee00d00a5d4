"""Comparison (d): FastAPI with one asyncpg query per request against the same data in PostgreSQL.

Reads BENCH_DATABASE_URL (a database filled by `onshi import`); run by bench/floor.py.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request

QUERY = """
SELECT q.qualification_id, q.insurer_number, q.symbol, q.number, q.branch, q.acquired_on, q.lost_on
FROM qualifications q JOIN persons p USING (person_id)
WHERE q.insurer_number = $1 AND q.symbol = $2 AND q.number = $3 AND p.birthdate = $4::text::date
ORDER BY q.acquired_on DESC LIMIT 1
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["BENCH_DATABASE_URL"], min_size=8, max_size=32)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/v1/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/v1/confirmations")
async def confirm(request: Request) -> dict[str, Any]:
    body = await request.json()
    row = await request.app.state.pool.fetchrow(
        QUERY, body.get("insurer_number"), body.get("symbol") or "", body.get("number"), body.get("birthdate")
    )
    if row is None:
        return {"code": "NOT_FOUND"}
    return {"eligible": True, "code": "VALID", "qualification": {k: str(v) for k, v in dict(row).items()}}
