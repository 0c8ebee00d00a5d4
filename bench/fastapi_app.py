"""Comparison (c): a plain FastAPI route with a pydantic body model, answering from a dict.

The same answers as bench/floor_app.py (imported from it); run by bench/floor.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from floor_app import ANSWERS, key_of
from pydantic import BaseModel

app = FastAPI()


class Confirmation(BaseModel):
    institution_code: str
    presented: str
    insurer_number: str | None = None
    symbol: str | None = None
    number: str | None = None
    branch: str | None = None
    birthdate: str | None = None
    confirmation_date: str | None = None


@app.get("/v1/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/v1/confirmations")
async def confirm(body: Confirmation) -> dict[str, Any]:
    return ANSWERS.get(key_of(body.model_dump()), {"code": "NOT_FOUND"})
