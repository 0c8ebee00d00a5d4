"""Admin upserts: validated with the stored rows they touch, written in one transaction."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from service.dataset import load_dir
from service.db.importer import import_dataset
from service.db.overlay import Dirty, read_changes
from service.db.upserts import UpsertError, apply_upsert
from tests.conftest import EXAMPLES
from tests.db.conftest import query, run

PERSON = {
    "person_id": 900,
    "name": "新規 花子",
    "name_kana": "シンキ ハナコ",
    "sex": 2,
    "birthdate": "1990-02-02",
}
QUAL = {
    "qualification_id": 9001,
    "person_id": 900,
    "insurer_number": "06270011",
    "symbol": "７－１０",  # full-width: stored canonical
    "number": "999",
    "branch": "00",
    "relationship": 1,
    "acquired_on": "2025-04-01",
}


@pytest.fixture
def loaded(db: str) -> str:
    async def go() -> None:
        conn = await asyncpg.connect(db)
        try:
            await import_dataset(conn, load_dir(EXAMPLES / "data"))
        finally:
            await conn.close()

    run(go())
    return db


def upsert(url: str, body: Any) -> int:
    async def go() -> int:
        conn = await asyncpg.connect(url)
        try:
            return await apply_upsert(conn, body)
        finally:
            await conn.close()

    return run(go())  # type: ignore[no-any-return]


def problems(url: str, body: Any) -> list[str]:
    with pytest.raises(UpsertError) as info:
        upsert(url, body)
    return info.value.problems


def test_enrolment_is_stored_canonical_and_logged(loaded: str) -> None:
    seq = upsert(loaded, {"persons": [PERSON], "qualifications": [QUAL]})
    row = query(loaded, "SELECT symbol, number, branch FROM qualifications WHERE qualification_id = 9001")[0]
    assert (row["symbol"], row["number"], row["branch"]) == ("7-10", "999", "00")
    log = query(loaded, "SELECT seq, table_name, op, row_key FROM change_log WHERE seq > 1 ORDER BY seq")
    assert [(r["table_name"], r["op"], r["row_key"]) for r in log] == [
        ("persons", "INSERT", "900"),
        ("qualifications", "INSERT", "9001"),
    ]
    assert seq == log[-1]["seq"]


def test_update_of_a_stored_row_is_logged_as_update(loaded: str) -> None:
    seq = upsert(
        loaded,
        {
            "registrations": [
                {"person_id": 1, "registered_on": "2021-10-20", "deregistration_requested_on": "2025-05-10"}
            ]
        },
    )
    row = query(loaded, "SELECT op, row_key FROM change_log WHERE seq = $1", seq)[0]
    assert (row["op"], row["row_key"]) == ("UPDATE", "1")


def test_references_must_resolve_against_stored_rows(loaded: str) -> None:
    found = problems(
        loaded,
        {
            "qualifications": [{**QUAL, "person_id": 12345}],
            "documents": [
                {
                    "document_id": 5000,
                    "qualification_id": 77777,
                    "kind": "info_notice",
                    "issued_on": "2025-01-01",
                }
            ],
            "certificates": [
                {
                    "certificate_serial": "ab",
                    "person_id": 1,
                    "issued_on": "2025-01-01",
                    "expires_on": "2030-01-01",
                }
            ],
        },
    )
    assert any(p.startswith("qualifications[0]: person_id:") for p in found), found
    assert any(p.startswith("documents[0]: qualification_id:") for p in found), found
    assert not any(p.startswith("certificates") for p in found), found  # person 1 is stored
    assert len(query(loaded, "SELECT 1 FROM change_log")) == 1  # nothing written


def test_a_key_in_force_for_another_stored_person_is_refused(loaded: str) -> None:
    # 06270011 / 7-10 / 123 branch 00 is person 1's key (examples).
    clash = {**QUAL, "number": "123", "acquired_on": "2024-01-01"}
    found = problems(loaded, {"persons": [PERSON], "qualifications": [clash]})
    assert any("key already in force for another person" in p for p in found), found
    assert not query(loaded, "SELECT 1 FROM persons WHERE person_id = 900")


def test_row_formats_and_shapes_name_the_field(loaded: str) -> None:
    assert problems(loaded, {"persons": [{**PERSON, "birthdate": "1990-02-30"}]}) == [
        "persons[0]: birthdate: not a valid date (YYYY-MM-DD)"
    ]
    assert problems(loaded, {"persons": [{**PERSON, "sex": [1]}]}) == [
        "persons[0]: sex: must be a string, an integer or null"
    ]
    assert problems(loaded, {"people": []})[0].startswith("people: unknown table")
    assert problems(loaded, {"persons": {}}) == ["persons: must be a list of objects"]
    assert problems(loaded, []) == ["body: must be a JSON object"]


def test_an_api_key_cannot_be_issued_twice(loaded: str) -> None:
    key = "issued-once-" + "q" * 20
    upsert(
        loaded,
        {"institutions": [{"institution_code": "2710000019", "name": "北浜内科クリニック", "api_key": key}]},
    )
    found = problems(
        loaded, {"institutions": [{"institution_code": "1310000019", "name": "X", "api_key": key}]}
    )
    assert found == ["institutions[0]: api_key: the same key is issued to another institution"]


def test_a_new_key_must_be_long_even_a_demo_one(loaded: str) -> None:
    found = problems(
        loaded,
        {"institutions": [{"institution_code": "1310000019", "name": "X", "api_key": "demo-key-clinic"}]},
    )
    assert found == [
        "institutions[0]: api_key: shorter than 22 characters "
        "(a key needs 128 bits: e.g. 22 random base64 characters)"
    ]


def test_change_log_names_the_persons_each_change_touches(loaded: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(loaded)
        try:
            start = await conn.fetchval("SELECT max(seq) FROM change_log")
            dirty = Dirty()
            assert await read_changes(conn, start, dirty) == start and not dirty
            seq = await apply_upsert(conn, {"persons": [PERSON], "qualifications": [QUAL]})
            assert await read_changes(conn, start, dirty) == seq
            assert dirty.persons == {900} and not dirty.insurers
            # A qualification moved to another person dirties both, old and new.
            await conn.execute("UPDATE qualifications SET person_id = 1 WHERE qualification_id = 9001")
            moved = Dirty()
            seq2 = await read_changes(conn, seq, moved)
            assert seq2 is not None
            assert moved.persons == {900, 1}
            await conn.execute("DELETE FROM documents WHERE qualification_id = 9001")  # none: no entry
            await conn.execute("UPDATE insurers SET name = name")
            changed = Dirty()
            assert await read_changes(conn, seq2, changed) is not None
            assert changed.insurers and not changed.persons
            await import_dataset(conn, load_dir(EXAMPLES / "data"))
            assert await read_changes(conn, seq2, Dirty()) is None  # an import: reload everything
        finally:
            await conn.close()

    run(go())
