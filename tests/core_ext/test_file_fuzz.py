"""Snapshot files with random bits flipped in every array (half of them) or in one, and
the CRC made to match again (issue #20): each is refused at open or answers, in a process of its own so that a
crash or a hang would show; none may do either."""

from __future__ import annotations

import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import orjson
import pytest

import core_ext
from core_ext import write_snapshot
from core_ext._file import HEADER
from service.dataset import load_dir
from tests.conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.compiled
SEED = 20
FILES = 60
ASK = """
import sys, orjson, core_ext
from core_ext import SnapshotFileError, open_snapshot
from tests.population import INSTITUTION
refused = answered = 0
requests = orjson.loads(sys.stdin.buffer.read())
for path in sys.argv[1:]:
    try:
        opened = open_snapshot(path)
    except SnapshotFileError:
        refused += 1
        continue
    core = core_ext.IMPLEMENTATIONS["c"](opened.data)
    for request in requests:
        body = orjson.dumps({"institution_code": INSTITUTION, **request})
        status, _ = core.confirm(body, INSTITUTION, 739600, "r", "t", b"{}")
        assert status in (200, 400, 403, 413, 422), status
    batch = orjson.dumps({"institution_code": INSTITUTION, "items": requests})
    status, _ = core.confirm_batch(batch, INSTITUTION, 739600, "r", "t", b"{}")
    assert status == 200, status
    answered += 1
print(refused, answered)
"""


def flipped(source: bytes, rng: random.Random, every: bool) -> bytes:
    """Bits flipped in every array (`every`), or in one, and the CRC made to match."""
    raw = bytearray(source)
    magic, version, manifest_len, payload_len, _, flags = HEADER.unpack_from(raw, 0)
    manifest = orjson.loads(raw[HEADER.size : HEADER.size + manifest_len])
    payload = HEADER.size + manifest_len
    arrays = list(manifest["arrays"].values())
    for code, offset, count in arrays if every else [rng.choice(arrays)]:
        length = count * struct.calcsize(code)
        for _ in range(min(3, length)):
            raw[payload + offset + rng.randrange(length)] ^= 1 << rng.randrange(8)
    crc = zlib.crc32(raw[HEADER.size : HEADER.size + manifest_len + payload_len])
    HEADER.pack_into(raw, 0, magic, version, manifest_len, payload_len, crc, flags)
    return bytes(raw)


def test_flipped_files_are_refused_or_answer_never_crash_or_hang(tmp_path: Path) -> None:
    data = load_dir(EXAMPLES / "data")
    good = tmp_path / "good.snap"
    write_snapshot(core_ext.snapshot(data.tables), data.institutions, good)
    rng = random.Random(SEED)
    paths = []
    for i in range(FILES):
        path = tmp_path / f"flipped-{i}.snap"
        path.write_bytes(flipped(good.read_bytes(), rng, every=i % 2 == 0))
        paths.append(str(path))
    cases = orjson.loads((EXAMPLES / "cases.json").read_bytes())["cases"]
    requests = [
        {k: v for k, v in c["request"].items() if k != "institution_code"}
        for c in cases
        if isinstance(c.get("request"), dict)
    ]
    result = subprocess.run(
        [sys.executable, "-c", ASK, *paths],
        input=orjson.dumps(requests),
        capture_output=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"seed {SEED}: {result.stderr.decode()[-2000:]}"
    refused, answered = map(int, result.stdout.split())
    print(f"{FILES} flipped files: {refused} refused at open, {answered} answered")
    assert refused + answered == FILES and refused > 0 and answered > 0
