"""The binary COPY parser (core_ext._stream) checks every length it is given (issue #20):
a NULL where the schema allows none, a negative field or header length, are refused
with the reason instead of reaching memcpy."""

from __future__ import annotations

import struct

import pytest

from core_ext import StreamBuilder

pytestmark = pytest.mark.compiled
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)


def _field(value: bytes | None) -> bytes:
    return struct.pack(">i", -1) if value is None else struct.pack(">i", len(value)) + value


def _person(person_id: bytes | None, name: bytes | None) -> bytes:
    fields = [
        struct.pack(">q", 1) if person_id is None else person_id,
        name,
        None,  # name_kana: optional
        struct.pack(">h", 1),
        struct.pack(">i", 9000),
    ]
    return struct.pack(">h", len(fields)) + b"".join(_field(f) for f in fields)


def test_a_well_formed_row_is_read() -> None:
    builder = StreamBuilder([])
    builder.feed("persons", HEADER + _person(None, "太郎".encode()) + struct.pack(">h", -1))
    builder.end("persons")
    assert builder.finish().persons == 1


def test_a_null_in_a_required_column_is_refused() -> None:
    builder = StreamBuilder([])
    with pytest.raises(ValueError, match="persons: NULL in name"):
        builder.feed("persons", HEADER + _person(None, None))


def test_negative_lengths_are_refused() -> None:
    row = _person(None, b"x").replace(_field(b"x"), struct.pack(">i", -7) + b"x")
    with pytest.raises(ValueError, match="negative length"):
        StreamBuilder([]).feed("persons", HEADER + row)
    with pytest.raises(ValueError, match="negative length"):
        StreamBuilder([]).feed("persons", b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, -19) + b"\0" * 8)
