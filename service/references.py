"""照会番号: a clinic's own patient id (ReferenceNumber) per person, returned in its answers only.

Stored in PostgreSQL (`reference_numbers`, migration 010) and registered with the national
messages OQSsiimm01 / OQSmuimm01 (service/oqs/gateway.py); without a database they cannot be
registered (409 READ_ONLY).  Every worker holds them as `ReferenceNumbers`, one dict per
institution of person id -> number: read whole when following starts, then the changed
rows as change_log names them (service/follower.py).

An answer gets `reference_number` when it discloses a person the asking institution has
registered.  The person is the one the decision's access record names (the record is
written by the core as it decides, so no second lookup is needed): for a batch, the
records of disclosing codes are the disclosing results, in order.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from core_ext import OUTCOMES, parse_access_line

MAX_LENGTH = 50
DISCLOSING = frozenset(outcome.name for outcome in OUTCOMES if outcome.discloses)
SELECT_ALL = "SELECT institution_code, person_id, reference_number FROM reference_numbers"
SELECT_KEYS = (
    "SELECT row_key, institution_code, person_id, reference_number FROM reference_numbers"
    " WHERE row_key = ANY($1::text[])"
)
UPSERT = (
    "INSERT INTO reference_numbers (institution_code, person_id, reference_number) VALUES ($1, $2, $3)"
    " ON CONFLICT (institution_code, person_id)"
    " DO UPDATE SET reference_number = EXCLUDED.reference_number, registered_at = now()"
)


class ReferenceNumbers(dict[str, dict[int, str]]):
    """institution code -> {person id -> reference number}."""

    def put(self, institution: str, person_id: int, number: str | None) -> None:
        if number is None:
            numbers = self.get(institution)
            if numbers is not None:
                numbers.pop(person_id, None)
                if not numbers:
                    del self[institution]
        else:
            self.setdefault(institution, {})[person_id] = number


async def read_all(conn: asyncpg.Connection) -> ReferenceNumbers:
    numbers = ReferenceNumbers()
    for row in await conn.fetch(SELECT_ALL):
        numbers.put(row["institution_code"], row["person_id"], row["reference_number"])
    return numbers


async def read_changed(conn: asyncpg.Connection, numbers: ReferenceNumbers, row_keys: set[str]) -> None:
    """Bring the rows change_log named up to date (a key without a row was deleted)."""
    found = {row["row_key"]: row for row in await conn.fetch(SELECT_KEYS, list(row_keys))}
    for key in row_keys:
        institution, _, person = key.partition(":")
        row = found.get(key)
        numbers.put(institution, int(person), None if row is None else row["reference_number"])


async def register(conn: asyncpg.Connection, institution: str, person_id: int, number: str) -> None:
    await conn.execute(UPSERT, institution, person_id, number)


def disclosed_persons(records: bytes | bytearray) -> list[int]:
    """The persons whose data the decisions of these access records disclosed, in order."""
    persons = []
    for line in bytes(records).splitlines():
        values = parse_access_line(line)
        if values["code"] in DISCLOSING and values["person_id"] is not None:
            persons.append(values["person_id"])
    return persons


def with_reference_numbers(
    answer: bytes, records: bytes | bytearray, numbers: dict[int, str], batch: bool
) -> bytes:
    """The answer with `reference_number` added where the person disclosed has one."""
    persons = disclosed_persons(records)
    if not any(person in numbers for person in persons):
        return answer
    document: dict[str, Any] = orjson.loads(answer)
    results = document["results"] if batch else [document]
    disclosing = (result for result in results if result.get("person") is not None)
    for result, person in zip(disclosing, persons, strict=False):
        if person in numbers:
            result["reference_number"] = numbers[person]
    return orjson.dumps(document)
