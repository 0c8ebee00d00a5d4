"""A base snapshot plus an overlay of changed persons answers exactly like a full rebuild.

Random populations are imported into PostgreSQL and get random changes through SQL
(keys and persons moved, losses, new qualifications, documents, registrations,
certificates, birthdates).  The follower's way - change_log entries -> dirty persons
-> an overlay read from the database over the old base - and a snapshot rebuilt
from every row must give the same answers and access-log items to random requests,
with both core implementations.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core_ext
from core_ext._build import Tables
from core_ext._codes import DOCUMENT_KINDS
from service.dataset import DataSet
from service.db.importer import import_dataset
from service.db.overlay import Dirty, read_changes, read_overlay
from service.db.snapshot import read_tables, rebuild_snapshot
from service.follower import layered_generation
from service.state import Generation, generation_of
from tests.core_ext.test_differential import (
    INSURERS,
    NUMBERS,
    SYMBOLS,
    answers,
    days,
    maybe_day,
    populations,
    requests,
)
from tests.db.conftest import run
from tests.population import INSTITUTION, Population

KIND_NAMES = {code: name for name, code in DOCUMENT_KINDS.items()}
Change = tuple[str, tuple[Any, ...]]


def _date(day: int | None) -> date | None:
    return None if day is None else date.fromordinal(day)


@st.composite
def changes(draw: st.DrawFn, tables: Tables) -> list[Change]:
    """1-4 random changes as SQL statements (keeping every reference valid)."""
    persons = [p.person_id for p in tables.persons]
    quals = [q.qualification_id for q in tables.qualifications]
    docs = [d.document_id for d in tables.documents]
    out: list[Change] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["move", "lose", "add", "doc", "reg", "cert", "birth"]))
        if kind in ("move", "lose") and not quals:
            kind = "add"
        if kind == "move":  # a key or a person changes
            out.append(
                (
                    "UPDATE qualifications SET symbol = $1, number = $2, person_id = $3"
                    " WHERE qualification_id = $4",
                    (
                        draw(st.sampled_from(SYMBOLS)),
                        draw(st.sampled_from(NUMBERS)),
                        draw(st.sampled_from(persons)),
                        draw(st.sampled_from(quals)),
                    ),
                )
            )
        elif kind == "lose":
            out.append(
                (
                    "UPDATE qualifications SET lost_on = $1 WHERE qualification_id = $2",
                    (_date(draw(maybe_day)), draw(st.sampled_from(quals))),
                )
            )
        elif kind == "add":
            qid = max(quals, default=0) + 1
            quals.append(qid)
            acquired = draw(days)
            out.append(
                (
                    "INSERT INTO qualifications (qualification_id, person_id, insurer_number, symbol, number,"
                    " branch, relationship, acquired_on, lost_on) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)",
                    (
                        qid,
                        draw(st.sampled_from(persons)),
                        draw(st.sampled_from(INSURERS)),
                        draw(st.sampled_from(SYMBOLS)),
                        draw(st.sampled_from(NUMBERS)),
                        draw(st.sampled_from([None, "00", "01"])),
                        _date(acquired),
                        _date(draw(st.none() | st.integers(acquired, acquired + 700))),
                    ),
                )
            )
        elif kind == "doc" and docs and draw(st.booleans()):
            doc = draw(st.sampled_from(docs))
            docs.remove(doc)
            out.append(("DELETE FROM documents WHERE document_id = $1", (doc,)))
        elif kind == "doc" and quals:
            did = max(docs, default=0) + 1
            docs.append(did)
            out.append(
                (
                    "INSERT INTO documents VALUES ($1, $2, $3, $4, $5, $6)",
                    (
                        did,
                        draw(st.sampled_from(quals)),
                        KIND_NAMES[draw(st.sampled_from([1, 2, 3]))],
                        _date(draw(days)),
                        _date(draw(maybe_day)),
                        _date(draw(maybe_day)),
                    ),
                )
            )
        elif kind == "reg" and draw(st.booleans()):
            out.append(("DELETE FROM registrations WHERE person_id = $1", (draw(st.sampled_from(persons)),)))
        elif kind == "reg":
            out.append(
                (
                    "INSERT INTO registrations VALUES ($1, $2, $3) ON CONFLICT (person_id) DO UPDATE SET"
                    " registered_on = excluded.registered_on,"
                    " deregistration_requested_on = excluded.deregistration_requested_on",
                    (draw(st.sampled_from(persons)), _date(draw(days)), _date(draw(maybe_day))),
                )
            )
        elif kind == "cert":
            issued = draw(days)
            out.append(
                (
                    "INSERT INTO certificates VALUES ($1, $2, $3, $4, $5, $6)"
                    " ON CONFLICT (certificate_serial) DO UPDATE SET person_id = excluded.person_id,"
                    " issued_on = excluded.issued_on,"
                    " expires_on = excluded.expires_on, revoked_on = excluded.revoked_on,"
                    " face_only = excluded.face_only",
                    (
                        f"C{draw(st.integers(1, len(persons) + 1)):X}",
                        draw(st.sampled_from(persons)),
                        _date(issued),
                        _date(issued + draw(st.integers(0, 900))),
                        _date(draw(maybe_day)),
                        draw(st.booleans()),
                    ),
                )
            )
        else:
            out.append(
                (
                    "UPDATE persons SET birthdate = $1 WHERE person_id = $2",
                    (_date(draw(days)), draw(st.sampled_from(persons))),
                )
            )
    return out


async def layered_and_rebuilt(url: str, before: Tables, change_list: list[Change]) -> tuple[Any, ...]:
    conn = await asyncpg.connect(url)
    try:
        await import_dataset(conn, DataSet(before))
        base = await rebuild_snapshot(conn)
        for sql, args in change_list:
            await conn.execute(sql, *args)
        dirty = Dirty()
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            seq = await read_changes(conn, base.seq, dirty)
            overlay = await read_overlay(conn, base.data, dirty.persons)
        rebuilt = await rebuild_snapshot(conn)
        after = await read_tables(conn)
    finally:
        await conn.close()
    assert seq == rebuilt.seq and not dirty.insurers
    return base.data, overlay, rebuilt.data, after, seq


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data(), st.sampled_from(sorted(core_ext.IMPLEMENTATIONS)))
def test_overlay_answers_like_a_full_rebuild(db: str, data: st.DataObject, impl_name: str) -> None:
    impl = core_ext.IMPLEMENTATIONS[impl_name]
    before = data.draw(populations())
    change_list = data.draw(changes(before))
    base_data, overlay, rebuilt_data, after, seq = run(layered_and_rebuilt(db, before, change_list))
    base = Generation(impl(base_data), {}, "v", base_data.persons, base_data.qualifications, 0.0)
    layered = layered_generation(base, overlay, {}, seq)
    assert (layered.persons, layered.qualifications) == (rebuilt_data.persons, rebuilt_data.qualifications)
    rebuilt = impl(rebuilt_data)
    for _ in range(12):
        request = data.draw(requests(after) | requests(before))
        body = orjson.dumps({"institution_code": INSTITUTION, **request})
        assert answers(layered.core, body) == answers(rebuilt, body), request


def test_untouched_persons_are_answered_by_the_base(db: str) -> None:
    """The overlay stays small: only what a change can affect is routed to it."""
    w = Population()
    for pid in range(1, 6):
        w.person(pid, "1980-01-01")
        w.qual(pid * 10, pid, "2020-04-01", number=str(pid))
        w.cert(f"AB{pid:02d}", pid, "2020-01-01", "2030-01-01")
    from service.dataset import validate

    async def go() -> Any:
        conn = await asyncpg.connect(db)
        try:
            await import_dataset(conn, validate(w.sources()))
            base = await rebuild_snapshot(conn)
            await conn.execute("INSERT INTO registrations VALUES (3, '2025-01-01', NULL)")
            dirty = Dirty()
            await read_changes(conn, base.seq, dirty)
            return dirty, await read_overlay(conn, base.data, dirty.persons), base
        finally:
            await conn.close()

    dirty, overlay, base = run(go())
    assert dirty.persons == {3}
    assert [p.person_id for p in overlay.tables.persons] == [3]
    assert {k[2] for k in overlay.keys} == {"3"} and overlay.serials == {"AB03"}
    assert generation_of(base.data, {}).persons == overlay.persons == 5
