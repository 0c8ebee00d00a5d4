"""A snapshot file is not trusted beyond what is checked (issue #20): indexes the compiled
core follows unchecked are validated at open, a forged file with a good CRC is refused
with the reason, an HMAC authenticates files when ONSHI_SNAPSHOT_KEY is set, and files
are written 0600 without following a link."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

import core_ext
from core_ext import SnapshotFileError, open_snapshot, write_snapshot
from core_ext._file import HEADER
from core_ext._rows import PERSON_ROWS, QUAL_ROWS
from service.dataset import load_dir
from tests.conftest import EXAMPLES


@pytest.fixture
def example_file(tmp_path: Path) -> Path:
    data = load_dir(EXAMPLES / "data")
    path = tmp_path / "good.snap"
    write_snapshot(core_ext.snapshot(data.tables), data.institutions, path)
    return path


def forge(path: Path, edit: Callable[[bytearray, dict, int], None]) -> Path:
    """Edit a file's payload (given its manifest and where the payload starts), then
    make its CRC match again: what a forger, not an accident, would leave."""
    raw = bytearray(path.read_bytes())
    magic, version, manifest_len, payload_len, _, flags = HEADER.unpack_from(raw, 0)
    manifest = orjson.loads(raw[HEADER.size : HEADER.size + manifest_len])
    edit(raw, manifest, HEADER.size + manifest_len)
    crc = zlib.crc32(raw[HEADER.size : HEADER.size + manifest_len + payload_len])
    HEADER.pack_into(raw, 0, magic, version, manifest_len, payload_len, crc, flags)
    forged = path.with_name("forged.snap")
    forged.write_bytes(bytes(raw))
    return forged


def _set_q_insurer(raw: bytearray, manifest: dict, payload: int) -> None:
    _, offset, _ = manifest["arrays"]["q_rows"]
    code, at = QUAL_ROWS.columns["q_insurer"]
    struct.pack_into("<" + code, raw, payload + offset + at, 30000)  # row 0's insurer


def _fill_key_slots(raw: bytearray, manifest: dict, payload: int) -> None:
    code, offset, count = manifest["arrays"]["key_slots"]
    size = struct.calcsize(code)
    for i in range(count):
        struct.pack_into("<" + code, raw, payload + offset + i * size, 0)  # no empty slot: a lookup spins


def _stretch_a_name(raw: bytearray, manifest: dict, payload: int) -> None:
    """Row 0's name points at the arena's last byte, which claims 254 bytes follow."""
    _, rows, _ = manifest["arrays"]["p_rows"]
    code, at = PERSON_ROWS.columns["p_name"]
    _, arena, size = manifest["arrays"]["arena"]
    struct.pack_into("<" + code, raw, payload + rows + at, size - 1)
    raw[payload + arena + size - 1] = 254


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set_q_insurer, "q_insurer out of range"),
        (_fill_key_slots, "key_slots out of range"),
        (_stretch_a_name, "a string of p_name runs past the arena"),
    ],
)
def test_a_forged_index_with_a_good_crc_is_refused(example_file: Path, edit: Callable, reason: str) -> None:
    with pytest.raises(SnapshotFileError, match=f"corrupted \\({reason}\\)"):
        open_snapshot(forge(example_file, edit))


def test_forged_institutions_are_refused(example_file: Path) -> None:
    def edit(raw: bytearray, manifest: dict, payload: int) -> None:
        start = raw.index(b'"institutions":{') + len(b'"institutions":{')
        raw[start : start + 1] = b'"x":"1","'  # a key hash of one character, a code of one digit

    with pytest.raises(SnapshotFileError, match="institutions|manifest"):
        open_snapshot(forge(example_file, edit))


def test_with_a_key_files_are_authenticated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_dir(EXAMPLES / "data")
    unsigned = tmp_path / "unsigned.snap"
    write_snapshot(core_ext.snapshot(data.tables), data.institutions, unsigned)
    monkeypatch.setenv("ONSHI_SNAPSHOT_KEY", "k" * 32)
    signed = tmp_path / "signed.snap"
    write_snapshot(core_ext.snapshot(data.tables), data.institutions, signed)
    assert open_snapshot(signed).data.persons == 11
    with pytest.raises(SnapshotFileError, match="not authenticated"):
        open_snapshot(unsigned)
    raw = bytearray(signed.read_bytes())
    raw[-40] ^= 1  # payload altered (and the CRC would catch it too): the MAC is checked first
    (tmp_path / "altered.snap").write_bytes(bytes(raw))
    with pytest.raises(SnapshotFileError, match="HMAC mismatch"):
        open_snapshot(tmp_path / "altered.snap")
    monkeypatch.setenv("ONSHI_SNAPSHOT_KEY", "another-key-" + "x" * 20)
    with pytest.raises(SnapshotFileError, match="HMAC mismatch"):
        open_snapshot(signed)
    monkeypatch.delenv("ONSHI_SNAPSHOT_KEY")
    assert open_snapshot(signed).data.persons == 11  # without a key: checked by CRC as before


def test_files_are_written_0600_and_never_through_a_link(tmp_path: Path) -> None:
    data = load_dir(EXAMPLES / "data")
    path = tmp_path / "s.snap"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    os.symlink(victim, tmp_path / f"s.snap.tmp{os.getpid()}")  # planted where the writer writes
    write_snapshot(core_ext.snapshot(data.tables), data.institutions, path)
    assert victim.read_text() == "keep"
    assert path.stat().st_mode & 0o777 == 0o600
