"""A data set with two stored-only columns, declared in the schema and a migration only.

Run as `python -m tests.db.unheld_run DATABASE_URL FOLDER` in a fresh interpreter (the
columns are declared before core_ext is imported); prints one JSON object of findings
for tests/db/test_unheld_column.py to assert on.
"""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from tests.schema_extension import declare

COLUMNS = [
    ("qualifications", "example_remark", "TEXT"),
    ("documents", "example_checked_on", "DAY"),
    ("certificates", "example_flag", "FLAG"),
    ("persons", "example_count", "SMALL"),
]
MIGRATION = """
ALTER TABLE qualifications ADD COLUMN example_remark text;
ALTER TABLE documents ADD COLUMN example_checked_on date;
ALTER TABLE certificates ADD COLUMN example_flag boolean;
ALTER TABLE persons ADD COLUMN example_count smallint;
"""
NOTE = "保険者へ確認済"
CHECKED_ON = "2025-05-01"


def _add_column(path: Path, column: str, values: dict[int, str]) -> None:
    """Append a column to a CSV file, filled on the given data lines (1 = the first row)."""
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    rows[0].append(column)
    for i, row in enumerate(rows[1:], start=1):
        row.append(values.get(i, ""))
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)


async def main(url: str, folder: Path) -> dict[str, Any]:
    declare(COLUMNS)
    import asyncpg

    import core_ext
    from service.dataset import DataSetError, load_dir, validate
    from service.db.importer import import_dataset
    from service.db.rows import TEXT_SELECT
    from service.db.snapshot import read_tables, rebuild_snapshot
    from service.db.upserts import apply_upsert
    from tests.conftest import EXAMPLES

    found: dict[str, Any] = {"unheld": {t: [c.name for c in cs] for t, cs in core_ext.UNHELD.items() if cs}}
    data_dir = folder / "data"
    shutil.copytree(EXAMPLES / "data", data_dir)
    _add_column(data_dir / "qualifications.csv", "example_remark", {1: NOTE})
    _add_column(data_dir / "documents.csv", "example_checked_on", {1: CHECKED_ON})
    _add_column(data_dir / "certificates.csv", "example_flag", {1: "0"})  # false, not empty
    _add_column(data_dir / "persons.csv", "example_count", {1: "7"})

    data = load_dir(data_dir)
    tables = data.tables
    found["qualification_extra"] = [list(q.extra) for q in tables.qualifications[:2]]
    found["document_extra"] = [list(d.extra) for d in tables.documents[:2]]
    found["checked_on_day"] = core_ext.parse_day(CHECKED_ON)
    found["certificate_extra"] = [list(c.extra) for c in tables.certificates[:2]]
    found["person_extra"] = [list(p.extra) for p in tables.persons[:2]]
    python = validate(_sources(data_dir), compiled=False).tables
    found["python_checks_agree"] = vars(python) == vars(tables)

    bad = folder / "bad"
    shutil.copytree(data_dir, bad)
    text = (bad / "documents.csv").read_text(encoding="utf-8").replace(CHECKED_ON, "2025-13-01")
    (bad / "documents.csv").write_text(text, encoding="utf-8")
    try:
        load_dir(bad)
        found["bad_day"] = []
    except DataSetError as error:
        found["bad_day"] = error.problems

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(MIGRATION)
        await import_dataset(conn, data)
        found["stored_note"] = await conn.fetchval(
            "SELECT example_remark FROM qualifications WHERE qualification_id = $1",
            tables.qualifications[0].qualification_id,
        )
        found["stored_checked_on"] = str(
            await conn.fetchval(
                "SELECT example_checked_on FROM documents WHERE document_id = $1",
                tables.documents[0].document_id,
            )
        )
        read = await read_tables(conn)  # ids are unique, so sorting compares ids only
        found["qualifications_read_back"] = sorted(read.qualifications) == sorted(tables.qualifications)
        found["documents_read_back"] = sorted(read.documents) == sorted(tables.documents)
        found["others_read_back"] = sorted(read.certificates) == sorted(tables.certificates) and sorted(
            read.persons
        ) == sorted(tables.persons)
        # As an upsert reads stored rows back to check them: false is "0", NULL stays empty.
        flags = await conn.fetch(f"{TEXT_SELECT['certificates']} ORDER BY certificate_serial")
        found["flags_as_text"] = sorted({r["example_flag"] for r in flags}, key=str)

        first = next(
            csv.DictReader((data_dir / "qualifications.csv").read_text(encoding="utf-8").splitlines())
        )
        first["example_remark"] = "再確認"
        await apply_upsert(conn, {"qualifications": [first]})
        found["upserted_note"] = await conn.fetchval(
            "SELECT example_remark FROM qualifications WHERE qualification_id = $1",
            int(first["qualification_id"]),
        )
        first["example_remark"] = ""
        await apply_upsert(conn, {"qualifications": [first]})
        found["cleared_note"] = await conn.fetchval(
            "SELECT example_remark FROM qualifications WHERE qualification_id = $1",
            int(first["qualification_id"]),
        )

        cases = json.loads((EXAMPLES / "cases.json").read_text(encoding="utf-8"))["cases"]
        snapshots = {"files": data.build()[0]}
        for compiled in [False, True] if core_ext.StreamBuilder is not None else [False]:
            snapshots["database, compiled" if compiled else "database"] = (
                await rebuild_snapshot(conn, compiled=compiled)
            ).data
        found["answers"] = {name: _answers(core_ext.Core(s), cases) for name, s in snapshots.items()}
        found["expected"] = [[c["expect"]["status"], c["expect"].get("code")] for c in cases]
    finally:
        await conn.close()
    return found


def _answers(core: Any, cases: list[dict[str, Any]]) -> list[list[Any]]:
    """(status, code) of each public example, answered as their institution."""
    from core_ext import parse_day

    answers = []
    for case in cases:
        request = case["request"]
        body = json.dumps(request).encode()
        today = parse_day(request.get("confirmation_date") or "2025-04-01")
        status, answer = core.confirm(body, request.get("institution_code"), today, "r", "t", b"{}")
        answers.append([status, json.loads(answer).get("code")])
    return answers


def _sources(folder: Path) -> dict[str, Any]:
    from service.dataset import FILES, read_csv

    return {name: list(read_csv(folder / name)) for name in FILES}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], Path(sys.argv[2]))), ensure_ascii=False, default=str))
