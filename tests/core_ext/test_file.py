"""Snapshot files: a mapped file answers like the snapshot it was written from; bad files are refused."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import core_ext
from core_ext._file import FORMAT_VERSION, HEADER, SnapshotFileError, open_snapshot, write_snapshot
from service.dataset import load_dir
from tests.conftest import EXAMPLES
from tests.core_ext.test_differential import answers, populations, requests
from tests.population import INSTITUTION


@pytest.fixture(scope="module")
def example_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = load_dir(EXAMPLES / "data")
    path = tmp_path_factory.mktemp("snap") / "examples.snap"
    write_snapshot(core_ext.snapshot(data.tables), data.institutions, path)
    return path


@settings(max_examples=40)
@given(st.data(), st.sampled_from(sorted(core_ext.IMPLEMENTATIONS)))
def test_a_mapped_file_answers_like_memory(
    tmp_path_factory: pytest.TempPathFactory, data: Any, impl: str
) -> None:
    tables = data.draw(populations())
    snapshot = core_ext.snapshot(tables)
    path = tmp_path_factory.mktemp("f") / "s.snap"
    write_snapshot(snapshot, {"ab" * 32: "1310000019"}, path, seq=41, rate_limits={"1310000019": 5})
    mapped, institutions, seq, rate_limits = open_snapshot(path)
    assert institutions == {"ab" * 32: "1310000019"} and seq == 41 and rate_limits == {"1310000019": 5}
    assert mapped.version == snapshot.version
    in_memory, from_file = core_ext.IMPLEMENTATIONS[impl](snapshot), core_ext.IMPLEMENTATIONS[impl](mapped)
    for _ in range(10):
        body = orjson.dumps({"institution_code": INSTITUTION, **data.draw(requests(tables))})
        assert answers(from_file, body) == answers(in_memory, body)


def corrupt(source: Path, target: Path, edit: Any) -> Path:
    raw = bytearray(source.read_bytes())
    edit(raw)
    target.write_bytes(bytes(raw))
    return target


@pytest.mark.parametrize(
    ("name", "edit", "reason"),
    [
        ("truncated", lambda raw: raw.__delitem__(slice(len(raw) - 9, None)), "truncated"),
        ("header-only", lambda raw: raw.__delitem__(slice(20, None)), "truncated"),
        ("flipped", lambda raw: raw.__setitem__(len(raw) - 20, raw[len(raw) - 20] ^ 0xFF), "checksum"),
        ("magic", lambda raw: raw.__setitem__(slice(0, 8), b"NOTSNAPS"), "magic"),
        (
            "version",
            lambda raw: raw.__setitem__(slice(8, 12), struct.pack("<I", FORMAT_VERSION + 1)),
            "format version",
        ),
        ("padded", lambda raw: raw.extend(b"\0" * 8), "truncated or padded"),
    ],
)
def test_bad_files_are_refused_with_the_reason(
    example_file: Path, tmp_path: Path, name: str, edit: Any, reason: str
) -> None:
    bad = corrupt(example_file, tmp_path / f"{name}.snap", edit)
    with pytest.raises(SnapshotFileError, match=reason):
        open_snapshot(bad)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SnapshotFileError, match="cannot open"):
        open_snapshot(tmp_path / "nope.snap")


def test_header_is_what_the_docstring_says(example_file: Path) -> None:
    magic, version, manifest_len, payload_len, _crc, reserved = HEADER.unpack_from(example_file.read_bytes())
    assert (magic, version, reserved) == (b"ONSHISNP", FORMAT_VERSION, 0)
    assert HEADER.size + manifest_len + payload_len == example_file.stat().st_size
    # The payload and every array start on a cache line of the (page-aligned) mapping.
    assert (HEADER.size + manifest_len) % 64 == 0
    manifest = orjson.loads(example_file.read_bytes()[HEADER.size : HEADER.size + manifest_len])
    assert {"q_rows", "p_rows", "c_rows"} <= set(manifest["arrays"])
    assert manifest["seq"] == 0  # a data set's snapshot contains no change_log entry
    assert all(offset % 64 == 0 for _code, offset, _count in manifest["arrays"].values())
