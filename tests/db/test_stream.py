"""The compiled COPY-stream builder makes the same snapshot as the Python builder over fetched rows.

Arena offsets may differ (strings are interned in another order), so snapshots are
compared decoded: every array, with offsets replaced by their text and
certificates (ordered by person either way) sorted within each person.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from core_ext._build import SnapshotData, database_order_problem, text_at
from core_ext._rows import LAYOUTS
from service.dataset import DataSet, load_dir
from service.db.importer import import_dataset
from service.db.snapshot import StreamBuilder, rebuild_snapshot
from service.demo import demo_dataset
from service.synth.generator import Synth
from tests.conftest import EXAMPLES
from tests.db.conftest import run

pytestmark = pytest.mark.compiled  # the compiled stream builder

TEXT_ARRAYS = {"p_name", "p_kana", "q_symbol", "q_number", "c_serial"}
CERT_ARRAYS = ("c_person", "c_serial", "c_issued", "c_expires", "c_revoked", "c_face_only")


def decoded(data: SnapshotData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = [f.name for f in fields(data) if f.name not in {layout.field for layout in LAYOUTS}]
    names += [name for layout in LAYOUTS for name in layout.columns]  # row-grouped, by name
    for name in names:
        if name in ("version", "arena", "cert_slots", "cert_slot_tag", *CERT_ARRAYS):
            continue
        value = getattr(data, name)
        if name in TEXT_ARRAYS:
            value = [None if off < 0 else text_at(data.arena, off) for off in value]
        out[name] = list(value) if not isinstance(value, dict) else value
    certs = zip(*(getattr(data, name) for name in CERT_ARRAYS), strict=True)
    out["certificates"] = sorted(
        (person, text_at(data.arena, serial), *rest) for person, serial, *rest in certs
    )
    return out


async def both(url: str, data: DataSet) -> tuple[SnapshotData, SnapshotData]:
    conn = await asyncpg.connect(url)
    try:
        await import_dataset(conn, data)
        streamed = await rebuild_snapshot(conn, compiled=True)
        from_rows = await rebuild_snapshot(conn, compiled=False)
    finally:
        await conn.close()
    assert streamed.seq == from_rows.seq
    assert database_order_problem(streamed.data) is None
    assert database_order_problem(from_rows.data) is None
    assert streamed.institutions.keys == from_rows.institutions.keys == data.institutions
    return streamed.data, from_rows.data


def test_examples_build_the_same_snapshot_both_ways(db: str) -> None:
    streamed, from_rows = run(both(db, load_dir(EXAMPLES / "data")))
    assert streamed.persons == from_rows.persons > 0
    assert decoded(streamed) == decoded(from_rows)


@pytest.mark.parametrize("seed", [1, 2])
def test_synthetic_populations_build_the_same_snapshot_both_ways(db: str, tmp_path: Path, seed: int) -> None:
    Synth(seed, date(2026, 11, 1), tmp_path).run(3_000)
    print(f"synthetic population seed {seed}")
    streamed, from_rows = run(both(db, load_dir(tmp_path)))
    assert streamed.qualifications == from_rows.qualifications > 3_000
    assert decoded(streamed) == decoded(from_rows)


def test_demo_population_builds_the_same_snapshot_both_ways(db: str) -> None:
    streamed, from_rows = run(both(db, demo_dataset(2_000)))
    assert decoded(streamed) == decoded(from_rows)


def test_a_builder_hands_its_columns_over_once() -> None:
    builder = StreamBuilder([])
    data = builder.finish()
    assert (data.persons, data.qualifications) == (0, 0)
    assert list(data.p_qual) == [0]  # the person index still ends, at 0
    with pytest.raises(RuntimeError, match="called already"):
        builder.finish()  # its columns were let go of, to be freed as they are packed


def test_the_order_check_names_what_a_data_set_order_breaks() -> None:
    from core_ext import PersonRow, Tables, snapshot

    persons = [PersonRow(2, "二", None, 1, 700_000), PersonRow(1, "一", None, 2, 700_000)]
    problem = database_order_problem(snapshot(Tables(persons=persons)))
    assert problem == "persons are not in ascending person_id"
    assert database_order_problem(snapshot(Tables(persons=persons[::-1]))) is None
