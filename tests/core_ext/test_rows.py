"""Row-grouped columns: the compiled structs, the Python layouts and the views agree."""

from __future__ import annotations

import bisect
from array import array

import pytest

import core_ext
from core_ext._rows import (
    ALIGN,
    CERT_ROWS,
    LAYOUTS,
    PERSON_ROWS,
    aligned_buffer,
    column_view,
    pack,
    row_count,
)
from service.dataset import validate
from service.demo import demo_sources


@pytest.mark.compiled
def test_compiled_structs_have_the_layouts_of_rows() -> None:
    from core_ext._probe import row_offsets

    compiled = row_offsets()
    for layout in LAYOUTS:
        size, offsets = compiled[layout.field]
        assert size == layout.size, layout.field
        assert offsets == {name: offset for name, (_, offset) in layout.columns.items()}, layout.field


def test_every_layout_fits_its_row_without_overlap() -> None:
    for layout in LAYOUTS:
        taken: set[int] = set()
        for name, (code, offset) in layout.columns.items():
            width = array(code).itemsize
            assert offset % width == 0, name  # aligned, so a strided view can read it
            span = set(range(offset, offset + width))
            assert not span & taken and max(span) < layout.size, name
            taken |= span


def test_packed_columns_read_back_as_the_arrays_they_were() -> None:
    columns = {
        "c_person": array("i", [0, 0, 3, 7]),
        "c_serial": array("i", [11, -1, 2**31 - 1, -(2**31)]),
        "c_issued": array("h", [-32768, 0, 5, 32767]),
        "c_expires": array("h", [1, 2, 3, 4]),
        "c_revoked": array("h", [32767, 32767, 9, 9]),
        "c_face_only": array("b", [0, 1, 0, -1]),
    }
    rows = pack(CERT_ROWS, columns)
    assert rows.readonly and len(rows) == 4 * CERT_ROWS.size
    for name, values in columns.items():
        view = column_view(CERT_ROWS, rows, name)
        assert list(view) == list(values) and len(view) == len(values)
        assert view[-1] == values[-1] and list(view[1:3]) == list(values[1:3])
    people = column_view(CERT_ROWS, rows, "c_person")
    assert (bisect.bisect_left(people, 3), bisect.bisect_right(people, 0)) == (2, 2)
    with pytest.raises(TypeError):
        people[0] = 5  # a snapshot is immutable


def test_a_person_index_keeps_its_end_and_a_wrong_column_is_refused() -> None:
    columns = {
        "p_qual": array("i", [0, 2, 2, 5]),
        "p_birth": array("i", [700_000, 710_000, 720_000]),
        "p_name": array("i", [0, 4, 8]),
        "p_kana": array("i", [-1, 12, -1]),
        "p_id": array("I", [1, 2**32 - 1, 3]),
        "p_reg_from": array("h", [1, 2, 3]),
        "p_reg_last": array("h", [4, 5, 6]),
    }
    rows = pack(PERSON_ROWS, columns)
    assert row_count(PERSON_ROWS, rows) == 3
    assert list(column_view(PERSON_ROWS, rows, "p_qual")) == [0, 2, 2, 5]
    assert list(column_view(PERSON_ROWS, rows, "p_id")) == [1, 2**32 - 1, 3]
    assert list(column_view(PERSON_ROWS, rows, "p_kana")) == [-1, 12, -1]
    with pytest.raises(ValueError, match="p_birth"):
        pack(PERSON_ROWS, {**columns, "p_birth": array("i", [1, 2])})
    with pytest.raises(ValueError, match="p_id"):
        pack(PERSON_ROWS, {**columns, "p_id": array("b", [1, 2, 3])})


def test_a_built_snapshot_keeps_its_columns_by_name() -> None:
    tables = validate(demo_sources(300)).tables
    data = core_ext.snapshot(tables)
    assert data.persons == len(tables.persons) == len(data.p_birth) == len(data.p_qual) - 1
    assert data.qualifications == len(tables.qualifications) == len(data.q_lost)
    assert len(data.c_person) == len(tables.certificates)
    assert data.p_qual[data.persons] == data.qualifications
    assert [data.q_sex[q] for q in range(data.qualifications)] == [
        data.p_sex[data.q_person[q]] for q in range(data.qualifications)
    ]


@pytest.mark.compiled
@pytest.mark.parametrize("size", [1, 31, 32, 1000])
def test_rows_start_on_a_cache_line(size: int) -> None:
    from core_ext._probe import buffer_address

    addresses = {buffer_address(aligned_buffer(size)) % ALIGN for _ in range(20)}
    assert addresses == {0}
    data = core_ext.snapshot(validate(demo_sources(50)).tables)
    for layout in LAYOUTS:
        assert buffer_address(getattr(data, layout.field)) % ALIGN == 0, layout.field
