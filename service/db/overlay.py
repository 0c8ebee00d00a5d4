"""Answer changes between full rebuilds: an overlay of the changed persons, read from PostgreSQL.

A full snapshot rebuild costs seconds at national scale, so between rebuilds a small
overlay snapshot answers for everything a change can affect.  change_log names the
persons each change touches (migration 004); for those dirty persons:

- every key (insurer, symbol, number) of theirs, in the base snapshot or now, and
  every certificate serial of theirs, then or now, is routed to the overlay;
- the overlay holds, for each routed key, every qualification with that key now and
  all rows of those qualifications' persons (and the holders of routed serials), so
  its answers equal those of a full rebuild (tests/db/test_overlay.py checks this
  against random changes).

Nothing is kept in memory but the base snapshot: the rows come from the database in
one repeatable-read transaction.  The base must come from `rebuild_snapshot`, which
gives the order `core_ext._build.database_order_problem` states and tests/db/test_stream.py
checks (persons in id order, certificates grouped by person): a person is found there by
bisection.
Insurer changes shift insurer indexes and ask for a full rebuild instead.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from core_ext import BIG_ID, SnapshotData, Tables, id_at, text_at
from service.db.rows import CANONICAL_SELECT, ROW_MAKERS
from service.db.snapshot import read_insurers

Key = tuple[str, str, str]  # insurer number, symbol, number (canonical)


@dataclass
class Dirty:
    """What changed since the base snapshot was built."""

    persons: set[int] = field(default_factory=set)
    insurers: bool = False  # insurer indexes may have moved: rebuild in full
    institutions: bool = False  # re-read the institutions (API keys)
    # reference_numbers rows changed (service/references.py); not in a snapshot file, so
    # not a reason for a new one (left out of __bool__)
    references: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.persons or self.insurers or self.institutions)


@dataclass
class Overlay:
    """The overlay's rows, what it answers for, and the population counts it leaves."""

    tables: Tables
    keys: set[Key]
    serials: set[str]
    persons: int
    qualifications: int


def person_index(data: SnapshotData, person_id: int) -> int | None:
    """The row of a person in a snapshot whose persons are in ascending id order."""
    if person_id >= BIG_ID:  # kept apart, at the end
        return next((i for i, pid in data.p_id_big.items() if pid == person_id), None)
    i = bisect.bisect_left(data.p_id, person_id, 0, len(data.p_id) - len(data.p_id_big))
    return i if i < len(data.p_id) and id_at(data.p_id, data.p_id_big, i) == person_id else None


def unpack_serial(packed: bytes) -> str:
    """_build.pack_serial reversed."""
    return packed[1:].hex().upper()[: packed[0]]


def base_rows_of(data: SnapshotData, rows: Iterable[int]) -> tuple[set[Key], set[str], int]:
    """Keys and serials of persons (by snapshot row) in a base snapshot, and their qualification count."""
    keys: set[Key] = set()
    serials: set[str] = set()
    quals = 0
    for i in rows:
        first, last = data.p_qual[i], data.p_qual[i + 1]
        quals += last - first
        for q in range(first, last):
            keys.add(
                (
                    data.insurer_numbers[data.q_insurer[q]],
                    text_at(data.arena, data.q_symbol[q]).decode(),
                    text_at(data.arena, data.q_number[q]).decode(),
                )
            )
        for c in range(bisect.bisect_left(data.c_person, i), bisect.bisect_right(data.c_person, i)):
            serials.add(unpack_serial(text_at(data.arena, data.c_serial[c])))
    return keys, serials, quals


async def read_overlay(conn: asyncpg.Connection, base: SnapshotData, dirty: set[int]) -> Overlay:
    """The overlay for `dirty` persons over `base` (run inside a repeatable-read transaction)."""
    in_base = {p: i for p in dirty if (i := person_index(base, p)) is not None}
    keys, serials, _ = base_rows_of(base, in_base.values())
    ids = sorted(dirty)
    for r in await conn.fetch(
        "SELECT insurer_number, symbol, number FROM qualifications WHERE person_id = ANY($1)", ids
    ):
        keys.add((r[0], r[1], r[2]))
    serials.update(
        r[0]
        for r in await conn.fetch(
            "SELECT certificate_serial FROM certificates WHERE person_id = ANY($1)", ids
        )
    )
    insurers, symbols, numbers = ([k[n] for k in keys] for n in range(3))
    sharing = await conn.fetch(
        "SELECT DISTINCT person_id FROM qualifications WHERE (insurer_number, symbol, number) IN"
        " (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))"
        " UNION SELECT person_id FROM certificates WHERE certificate_serial = ANY($4)",
        insurers,
        symbols,
        numbers,
        sorted(serials),
    )
    included = sorted(set(ids) | {r[0] for r in sharing})
    tables = await read_persons(conn, included)
    replaced = [i for p in included if (i := person_index(base, p)) is not None]
    _, _, replaced_quals = base_rows_of(base, replaced)
    return Overlay(
        tables=tables,
        keys=keys,
        serials=serials,
        persons=base.persons - len(replaced) + len(tables.persons),
        qualifications=base.qualifications - replaced_quals + len(tables.qualifications),
    )


PERSON_ROWS = {
    "persons": "WHERE person_id = ANY($1) ORDER BY person_id",
    "qualifications": "WHERE person_id = ANY($1) ORDER BY qualification_id",
    "documents": "WHERE qualification_id IN"
    " (SELECT qualification_id FROM qualifications WHERE person_id = ANY($1)) ORDER BY document_id",
    "certificates": "WHERE person_id = ANY($1) ORDER BY person_id, certificate_serial",
    "registrations": "WHERE person_id = ANY($1) ORDER BY person_id",
}


async def read_persons(conn: asyncpg.Connection, person_ids: list[int]) -> Tables:
    """Every row of the given persons, with every insurer (in the order of the base's indexes)."""
    rows: dict[str, Any] = {"insurers": await read_insurers(conn)}
    for table, where in PERSON_ROWS.items():
        make = ROW_MAKERS[table]
        rows[table] = [make(r) for r in await conn.fetch(f"{CANONICAL_SELECT[table]} {where}", person_ids)]
    return Tables(**rows)


async def read_changes(conn: asyncpg.Connection, after: int, dirty: Dirty, limit: int = 50_000) -> int | None:
    """Fold change_log entries after seq `after` into `dirty`; the last seq read (None: an import)."""
    entries = await conn.fetch(
        "SELECT seq, table_name, op, person_id, row_key FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        after,
        limit,
    )
    for e in entries:
        if e["op"] == "import":
            return None
        if e["person_id"] is not None:
            dirty.persons.add(e["person_id"])
        elif e["table_name"] == "insurers":
            dirty.insurers = True
        elif e["table_name"] == "institutions":
            dirty.institutions = True
        elif e["table_name"] == "reference_numbers":
            dirty.references.add(e["row_key"])
    return entries[-1]["seq"] if entries else after
