"""POST /v1/admin/upserts: rows validated like an import, against what is stored, in one transaction.

The upserted rows are validated together with the stored rows they touch: the
persons, insurers and qualifications they reference, and every stored
qualification sharing a key with an upserted one (for the "one person per key in
force" rule).  Validation runs after taking the change_log lock, so no other
writer can change that context before the rows are written.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from core_ext import normalise_insurer_number, normalise_number, normalise_symbol
from service.dataset import COLUMNS, DataSetError, Row, hash_api_key, short_key_problem, validate
from service.db.rows import BY_TABLE, CSV_FILE, DB_COLUMNS, KEY_COLUMN, TABLES, TEXT_SELECT, to_record

MAX_ROWS = 100_000
_PROBLEM = re.compile(r"^(\w+)\.csv:(\d+): ")
_LINE_REF = re.compile(r"line (\d+)")
_IN_FILE = re.compile(r" in \w+\.csv")


class UpsertError(Exception):
    """The upsert is invalid: `problems` lists `table[index]: column: reason`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def _cell(value: Any) -> str | None:
    """A JSON value as the CSV cell it stands for; anything else is refused by the caller."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | str):
        return str(value)
    raise TypeError


def parse_body(body: Any) -> dict[str, list[Row]]:
    """The upsert body as CSV-style rows per table (shape only; values are checked by validate)."""
    problems: list[str] = []
    if not isinstance(body, dict):
        raise UpsertError(["body: must be a JSON object"])
    rows: dict[str, list[Row]] = {}
    for table, items in body.items():
        if table not in TABLES:
            problems.append(f"{table}: unknown table (expected one of {', '.join(TABLES)})")
            continue
        if not isinstance(items, list):
            problems.append(f"{table}: must be a list of objects")
            continue
        parsed = rows[table] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                problems.append(f"{table}[{i}]: must be an object")
                continue
            row: Row = {}
            for column in COLUMNS[CSV_FILE[table]]:
                try:
                    row[column] = _cell(item.get(column))
                except TypeError:
                    problems.append(f"{table}[{i}]: {column}: must be a string, an integer or null")
            parsed.append(row)
    if sum(len(r) for r in rows.values()) > MAX_ROWS:
        problems.append(f"body: at most {MAX_ROWS:,} rows per upsert")
    if problems:
        raise UpsertError(problems)
    return rows


def _renumber(problem: str) -> str:
    """`qualifications.csv:3: …` (line = index + 1; 0 = a stored row) as `qualifications[2]: …`."""

    def where(table: str, line: int) -> str:
        return f"{table}[{line - 1}]" if line > 0 else f"{table} (stored row)"

    match = _PROBLEM.match(problem)
    if match is None:
        return problem
    table, line = match.group(1), int(match.group(2))
    rest = _LINE_REF.sub(lambda m: where(table, int(m.group(1))), problem[match.end() :])
    rest = _IN_FILE.sub(" (neither stored nor in this upsert)", rest)
    return f"{where(table, line)}: {rest}"


async def _stored(
    conn: asyncpg.Connection, table: str, keys: set[Any], column: str | None = None
) -> list[Row]:
    if not keys:
        return []
    column = column or BY_TABLE[table].key
    typed = [int(k) for k in keys if str(k).isdigit()] if column.endswith("_id") else list(keys)
    records = await conn.fetch(f"{TEXT_SELECT[table]} WHERE {column} = ANY($1)", typed)
    return [dict(r) for r in records]


def _ids(rows: list[Row], column: str) -> set[Any]:
    return {r[column] for r in rows if r.get(column)}


async def _context(conn: asyncpg.Connection, rows: dict[str, list[Row]]) -> dict[str, list[Row]]:
    """The stored rows the upsert must be validated against (excluding the ones it replaces)."""

    def replaced(table: str) -> set[Any]:
        return _ids(rows.get(table, []), BY_TABLE[table].key)

    quals = rows.get("qualifications", [])
    context: dict[str, list[Row]] = {t: [] for t in BY_TABLE}
    # Qualifications referenced by documents, and those sharing a key with an upserted one.
    wanted_quals = _ids(rows.get("documents", []), "qualification_id") - replaced("qualifications")
    stored_quals = await _stored(conn, "qualifications", wanted_quals)
    keys = set()
    for q in quals:
        insurer, _ = normalise_insurer_number(q.get("insurer_number") or "")
        symbol, _ = normalise_symbol(q.get("symbol") or "")
        number, _ = normalise_number(q.get("number") or "")
        if None not in (insurer, symbol, number):
            keys.add((insurer, symbol, number))
    for insurer, symbol, number in keys:
        stored_quals += [
            dict(r)
            for r in await conn.fetch(
                f"{TEXT_SELECT['qualifications']} WHERE insurer_number = $1 AND symbol = $2 AND number = $3",
                insurer,
                symbol,
                number,
            )
        ]
    unique = {
        q["qualification_id"]: q
        for q in stored_quals
        if q["qualification_id"] not in replaced("qualifications")
    }
    context["qualifications"] = list(unique.values())
    everything = {t: rows.get(t, []) + context[t] for t in BY_TABLE}
    people = set().union(
        *(_ids(everything[t], "person_id") for t in ("qualifications", "certificates", "registrations"))
    )
    context["persons"] = await _stored(conn, "persons", people - replaced("persons"))
    insurers = {normalise_insurer_number(n)[0] for n in _ids(everything["qualifications"], "insurer_number")}
    context["insurers"] = await _stored(conn, "insurers", {n for n in insurers if n} - replaced("insurers"))
    return context


async def apply_upsert(conn: asyncpg.Connection, body: Any) -> int:
    """Validate and write one upsert; return the change seq that makes it visible."""
    rows = parse_body(body)
    async with conn.transaction():
        # Serialise writers: the context read below stays true until commit.
        await conn.execute("LOCK TABLE change_log IN SHARE ROW EXCLUSIVE MODE")
        context = await _context(conn, rows)
        sources: dict[str, list[tuple[int, Row]]] = {}
        for table in TABLES:
            mine = [(i + 1, r) for i, r in enumerate(rows.get(table, []))]
            sources[CSV_FILE[table]] = mine + [(0, r) for r in context.get(table, [])]
        try:
            data = validate(sources)  # type: ignore[arg-type]
        except DataSetError as exc:
            raise UpsertError([_renumber(p) for p in exc.problems]) from None
        short = [
            f"institutions[{i}]: api_key: {why}"
            for i, row in enumerate(rows.get("institutions", []))
            if (key := row.get("api_key")) and (why := short_key_problem(key))
        ]
        if short:  # a new key: no demo exception (a previous key is an old one, kept a while)
            raise UpsertError(short)
        institutions = [
            (
                row["institution_code"],
                row["name"],
                hash_api_key(row["api_key"] or ""),
                hash_api_key(previous) if (previous := row.get("api_key_previous")) else None,
                int(rate) if (rate := row.get("rate_limit")) else None,  # validated above
            )
            for row in rows.get("institutions", [])
        ]
        await _check_keys_unused(conn, institutions)
        for table in BY_TABLE:
            # validate() keeps source order and raised if any row failed, so the
            # upserted rows (listed before the context) are the first ones.
            mine = getattr(data.tables, table)[: len(rows.get(table, []))]
            await _upsert(conn, table, [to_record(table, r) for r in mine])
        await _upsert(conn, "institutions", institutions)
        seq: int = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM change_log")
    return seq


async def _check_keys_unused(conn: asyncpg.Connection, institutions: list[tuple[Any, ...]]) -> None:
    problems = []
    for i, (code, _name, *digests, _rate) in enumerate(institutions):
        for column, digest in zip(("api_key", "api_key_previous"), digests, strict=True):
            owner = digest and await conn.fetchval(
                "SELECT institution_code FROM institutions "
                "WHERE api_key_sha256 = $1 OR api_key_previous_sha256 = $1",
                digest,
            )
            if owner and owner != code:
                problems.append(f"institutions[{i}]: {column}: the same key is issued to another institution")
    if problems:
        raise UpsertError(problems)


async def _upsert(conn: asyncpg.Connection, table: str, records: list[tuple[Any, ...]]) -> None:
    if not records:
        return
    columns = DB_COLUMNS[table]
    key = KEY_COLUMN[table]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key)
    placeholders = ", ".join(f"${i + 1}" for i in range(len(columns)))
    await conn.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}",
        records,
    )
