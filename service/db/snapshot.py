"""Build a snapshot from PostgreSQL: binary COPY into the compiled builder, or rows into the Python one.

Everything is read in one repeatable-read transaction, so the snapshot reflects
exactly the change_log entries up to the `seq` it reports.  Persons come in
ascending person_id and certificates grouped by person with either builder: the
follower's overlay finds a person's rows in a snapshot by bisection.

The compiled path (`core_ext._stream.StreamBuilder`) parses the COPY stream as it
arrives, chunk by chunk on the event loop (each chunk takes well under a
millisecond); the sorting and indexing between tables run in a worker thread,
mostly without the GIL, so requests keep being answered during a rebuild.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg

import core_ext
from core_ext import HELD, InsurerRow, SnapshotData, StreamBuilder, Tables
from core_ext.schema import SNAPSHOT_STREAMS, Column, Form
from service.db.rows import BY_TABLE, CANONICAL_SELECT, ROW_MAKERS, choice_code


def _copied(column: Column) -> str:
    """A column as the stream builder reads it: integers for the branch and the choices."""
    if column.form is Form.BRANCH:
        return f"coalesce({column.name}::smallint, -1::smallint)"
    if column.form is Form.CHOICE:
        return f"({choice_code(column)})::smallint"
    return column.name


# The binary COPY of each table the stream builder parses (the columns rows hold), in
# feeding order; persons must arrive in ascending person_id (the snapshot's database order).
COPY_SELECT = {
    table: f"SELECT {', '.join(_copied(c) for c in BY_TABLE[table].columns[: len(HELD[table])])} FROM {table}"
    + (" ORDER BY person_id" if table == "persons" else "")
    for table in SNAPSHOT_STREAMS
}
# The same order for the Python builder, which keeps the order it is given.
ROW_ORDER = {"persons": "person_id", "certificates": "person_id, certificate_serial"}
INSURERS_SELECT = CANONICAL_SELECT["insurers"] + " ORDER BY insurer_number"


@dataclass
class Institutions:
    """The institutions as a server uses them."""

    keys: dict[str, str]  # key hash -> institution code, for the current and any previous key
    names: dict[str, str]  # code -> name
    rate_limits: dict[str, int]  # code -> its own requests per second, where it has one


@dataclass
class Rebuilt:
    """A snapshot read from the database, its institutions and the change seq it reflects."""

    data: SnapshotData
    institutions: Institutions
    seq: int


async def read_institutions(conn: asyncpg.Connection) -> Institutions:
    rows = await conn.fetch(CANONICAL_SELECT["institutions"])
    return Institutions(
        keys={
            digest: r["institution_code"]
            for r in rows
            for digest in (r["api_key_sha256"], r["api_key_previous_sha256"])
            if digest
        },
        names={r["institution_code"]: r["name"] for r in rows},
        rate_limits={r["institution_code"]: int(r["rate_limit"]) for r in rows if r["rate_limit"]},
    )


async def read_insurers(conn: asyncpg.Connection) -> list[InsurerRow]:
    """Every insurer, in the order that fixes insurer indexes (overlays must use the same)."""
    make = ROW_MAKERS["insurers"]
    return [make(r) for r in await conn.fetch(INSURERS_SELECT)]


QUEUED_CHUNKS = 256  # asyncpg hands over chunks of a few kB to 64 kB


async def rebuild_snapshot(conn: asyncpg.Connection, compiled: bool | None = None) -> Rebuilt:
    """The whole snapshot; `compiled` picks the builder (default: the compiled one when built)."""
    use_stream = StreamBuilder is not None if compiled is None else compiled
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        seq: int = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM change_log")
        insurers = await read_insurers(conn)
        institutions = await read_institutions(conn)
        data = await (_streamed(conn, insurers) if use_stream else _from_rows(conn, insurers))
    return Rebuilt(data, institutions, seq)


async def _streamed(conn: asyncpg.Connection, insurers: list[InsurerRow]) -> SnapshotData:
    """COPY the tables in turn; feed the builder as chunks arrive, index each table in a thread.

    The indexing of one table (sorting, hash tables) overlaps the next table's COPY.  A
    second connection reading ahead was tried: no faster once its queue is bounded, and
    unbounded it once piled up 15 GB at 10 M members.
    """
    if StreamBuilder is None:
        raise RuntimeError("the compiled builder is not built (make install)")
    builder = StreamBuilder(insurers)
    # Bounded: COPY waits (TCP backpressure) instead of piling up while a table is indexed.
    stream: asyncio.Queue[tuple[str, bytes | None]] = asyncio.Queue(QUEUED_CHUNKS)

    async def produce() -> None:
        for table, sql in COPY_SELECT.items():

            async def sink(chunk: bytes, table: str = table) -> None:
                await stream.put((table, chunk))

            await conn.copy_from_query(sql, output=sink, format="binary")
            await stream.put((table, None))

    async def consume() -> None:
        for _ in COPY_SELECT:
            while True:
                table, chunk = await stream.get()
                if chunk is None:
                    break
                builder.feed(table, chunk)
            await asyncio.to_thread(builder.end, table)

    producer = asyncio.create_task(produce())
    try:
        await asyncio.gather(consume(), producer)
    finally:
        producer.cancel()
    data: SnapshotData = await asyncio.to_thread(builder.finish)
    return data


async def read_tables(conn: asyncpg.Connection, insurers: list[InsurerRow] | None = None) -> Tables:
    """Every entity row as validated `Tables` rows (persons in id order, certificates by person)."""
    rows: dict[str, Any] = {"insurers": insurers if insurers is not None else await read_insurers(conn)}
    for table in SNAPSHOT_STREAMS:
        order = f" ORDER BY {ROW_ORDER[table]}" if table in ROW_ORDER else ""
        make = ROW_MAKERS[table]
        rows[table] = [make(r) for r in await conn.fetch(CANONICAL_SELECT[table] + order)]
    return Tables(**rows)


async def _from_rows(conn: asyncpg.Connection, insurers: list[InsurerRow]) -> SnapshotData:
    return await asyncio.to_thread(core_ext.snapshot, await read_tables(conn, insurers))
