"""`onshi snapshot fetch`: the newest published file onto local disk, checked before it replaces one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core_ext import SnapshotFileError, open_snapshot, write_snapshot
from service.dataset import load_dir
from service.snapshot_fetch import fetch_once, newest
from tests.conftest import EXAMPLES
from tests.processes import ONSHI


@pytest.fixture
def published(tmp_path: Path) -> Path:
    folder = tmp_path / "published"
    folder.mkdir()
    data, institutions = load_dir(EXAMPLES / "data").build()
    write_snapshot(data, institutions, folder / "onshi-20261203T100000Z.snap", seq=5)
    write_snapshot(data, institutions, folder / "onshi-20261203T110000Z.snap", seq=7)
    (folder / "onshi-20261203T120000Z.snap.tmp42").write_bytes(b"being written")
    return folder


def test_the_newest_by_name_is_copied_once(published: Path, tmp_path: Path) -> None:
    dest = tmp_path / "local.snap"
    assert newest(published) == published / "onshi-20261203T110000Z.snap"
    assert fetch_once(published, dest) == published / "onshi-20261203T110000Z.snap"
    assert open_snapshot(dest).seq == 7
    assert fetch_once(published, dest) is None  # already there
    inode = dest.stat().st_ino
    data, institutions = load_dir(EXAMPLES / "data").build()
    write_snapshot(data, institutions, published / "onshi-20261203T130000Z.snap", seq=9)
    assert fetch_once(published, dest) is not None
    assert open_snapshot(dest).seq == 9 and dest.stat().st_ino != inode  # renamed over, not rewritten


def test_a_broken_newest_file_does_not_replace_a_good_one(published: Path, tmp_path: Path) -> None:
    dest = tmp_path / "local.snap"
    fetch_once(published, dest)
    (published / "onshi-20261203T140000Z.snap").write_bytes(b"x" * 4096)
    with pytest.raises(SnapshotFileError):
        fetch_once(published, dest)
    assert open_snapshot(dest).seq == 7
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no copy left behind


def test_the_command_fails_while_nothing_is_published(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [str(ONSHI), "snapshot", "fetch", "--from", str(empty), "--to", str(tmp_path / "l.snap")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert done.returncode == 1 and "no snapshot file" in done.stderr
