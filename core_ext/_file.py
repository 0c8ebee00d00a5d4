"""The snapshot file: every array of a snapshot in one file, opened with mmap.

Layout (all integers little-endian):

    0   8  magic  b"ONSHISNP"
    8   4  format version (FORMAT_VERSION)
    12  4  manifest length M
    16  8  payload length P
    24  4  CRC-32 of manifest and payload
    28  4  flags: 1 = authenticated (an HMAC-SHA-256 trailer follows the payload)
    32  M  manifest: JSON with the snapshot version, counts, the change_log seq the
           snapshot contains (0 for a data set's), the small tables (insurers,
           limit categories, institutions by key hash) and, per array,
           its type code, offset in the payload and item count; padded with spaces
           so that the payload starts on a 64-byte boundary
    .   P  payload: the arrays, each starting on a 64-byte boundary (a cache line:
           the rows of `_rows` never straddle two)
    .  32  with flag 1: HMAC-SHA-256 of everything before it, keyed by ONSHI_SNAPSHOT_KEY

Opening checks the magic, the version, the lengths against the file size, the
checksum, every array's bounds and every index the compiled core follows without a
check (rows, insurers, limit categories, key and certificate slots, arena offsets and
the lengths of the strings there); any mismatch raises
SnapshotFileError with the reason.  When `ONSHI_SNAPSHOT_KEY` is set, files are written
with an HMAC and a file without a valid one is refused: a CRC finds accidents, the HMAC
finds a file someone else wrote.  Files are written beside the target with O_EXCL and
O_NOFOLLOW, mode 0600, and renamed over it; truncating or rewriting a mapped file in
place raises SIGBUS in every worker that maps it, so renaming is the only safe update.
The arrays come back as memoryviews of the mapping, so every worker process shares the
same page-cache pages.  Replace a file by writing a new one and
renaming it over the old (as `write_snapshot` does): a mapping of the old inode
stays valid until the last reader lets go.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import mmap
import os
import struct
import zlib
from array import array
from dataclasses import fields
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from ._build import LONG_TEXT, SnapshotData
from ._rows import LAYOUTS
from ._text import SERIAL_MAX

MAGIC = b"ONSHISNP"
FORMAT_VERSION = 4  # 2: index slots placed by the mixed home_slot; 3: row-grouped columns;
# 4: key slots name a group's first row, key_next links the rest
HEADER = struct.Struct("<8sIIQII")
ALIGN = 64
META_FIELDS = ("version", "insurer_numbers", "insurer_names", "limit_names")
AUTHENTICATED = 1
MAC = hashlib.sha256().digest_size


def snapshot_key() -> bytes | None:
    """ONSHI_SNAPSHOT_KEY: the key that authenticates snapshot files (None: not set)."""
    key = os.environ.get("ONSHI_SNAPSHOT_KEY")
    return key.encode() if key else None


class SnapshotFileError(Exception):
    """The file is not a usable snapshot (truncated, corrupted, wrong format or version)."""


class OpenedSnapshot(NamedTuple):
    """A mapped snapshot file: `generation_of(*opened)` serves it."""

    data: SnapshotData
    institutions: dict[str, str]  # key hash -> institution code
    seq: int  # the last change_log entry it contains (a follower resumes after it)
    rate_limits: dict[str, int]  # institution code -> its own requests per second


def _arrays(data: SnapshotData) -> dict[str, tuple[str, Any]]:
    """Every array field of the snapshot, with its type code (the arena as bytes 'B')."""
    out: dict[str, tuple[str, Any]] = {"arena": ("B", data.arena)}
    for f in fields(data):
        value = getattr(data, f.name)
        if isinstance(value, array):
            out[f.name] = (value.typecode, value)
        elif isinstance(value, memoryview) and f.name != "arena":
            out[f.name] = (value.format, value)
    return out


def write_snapshot(
    data: SnapshotData,
    institutions: dict[str, str],
    path: str | Path,
    seq: int = 0,
    rate_limits: dict[str, int] | None = None,
) -> int:
    """Write `data`, the institutions (key hash -> code, and code -> own rate limit) and the
    change_log seq the data contains to `path` atomically; return its size."""
    path = Path(path)
    entries: dict[str, list[Any]] = {}
    # Views of the arrays, not copies: the arrays are the snapshot's own memory, and a
    # copy of all of them (as this function once made) doubled the peak of a build.
    chunks: list[tuple[memoryview, bytes]] = []
    offset = 0
    for name, (code, values) in _arrays(data).items():
        raw = memoryview(values).cast("B")
        item = struct.calcsize(code)
        entries[name] = [code, offset, len(raw) // item]
        pad = b"\0" * ((-len(raw)) % ALIGN)
        chunks.append((raw, pad))
        offset += len(raw) + len(pad)
    manifest = orjson.dumps(
        {
            **{name: getattr(data, name) for name in META_FIELDS},
            "persons": data.persons,
            "qualifications": data.qualifications,
            "seq": seq,
            "institutions": institutions,
            "rate_limits": rate_limits or {},
            "p_id_big": sorted(data.p_id_big.items()),
            "q_id_big": sorted(data.q_id_big.items()),
            "arrays": entries,
        }
    )
    manifest += b" " * ((-HEADER.size - len(manifest)) % ALIGN)  # the payload starts aligned
    crc = zlib.crc32(manifest)
    for raw, pad in chunks:
        crc = zlib.crc32(pad, zlib.crc32(raw, crc))
    key = snapshot_key()
    mac = hmac.new(key, digestmod=hashlib.sha256) if key else None
    header = HEADER.pack(MAGIC, FORMAT_VERSION, len(manifest), offset, crc, AUTHENTICATED if key else 0)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # a crashed writer's (its pid reused): not followed if a link
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        for part in (header, manifest, *(piece for chunk in chunks for piece in chunk)):
            f.write(part)
            if mac is not None:
                mac.update(part)
        if mac is not None:
            f.write(mac.digest())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return HEADER.size + len(manifest) + offset + (MAC if key else 0)


def open_snapshot(path: str | Path, verify: bool = True) -> OpenedSnapshot:
    """Map a snapshot file: the snapshot (arrays over the mapping), its institutions and seq."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < HEADER.size:
                raise SnapshotFileError(f"{path}: truncated ({size} bytes, shorter than the header)")
            mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise SnapshotFileError(f"{path}: cannot open ({exc.strerror})") from None
    view = memoryview(mapping)
    magic, version, manifest_len, payload_len, crc, flags = HEADER.unpack_from(view, 0)
    if magic != MAGIC:
        raise SnapshotFileError(f"{path}: not an Onshi snapshot file (bad magic)")
    if version != FORMAT_VERSION:
        raise SnapshotFileError(
            f"{path}: format version {version}, this Onshi reads version {FORMAT_VERSION}"
        )
    expected = HEADER.size + manifest_len + payload_len + (MAC if flags & AUTHENTICATED else 0)
    if size != expected:
        raise SnapshotFileError(f"{path}: truncated or padded ({size} bytes, the header says {expected})")
    key = snapshot_key()
    if key is not None:
        if not flags & AUTHENTICATED:
            raise SnapshotFileError(
                f"{path}: not authenticated (ONSHI_SNAPSHOT_KEY is set; the file has no HMAC)"
            )
        signed = view[: size - MAC]
        if not hmac.compare_digest(hmac.new(key, signed, hashlib.sha256).digest(), view[size - MAC :]):
            raise SnapshotFileError(f"{path}: not authenticated (HMAC mismatch: another key, or altered)")
    body = view[HEADER.size : HEADER.size + manifest_len + payload_len]
    if verify and zlib.crc32(body) != crc:
        raise SnapshotFileError(f"{path}: corrupted (checksum mismatch)")
    try:
        manifest = orjson.loads(body[:manifest_len])
    except orjson.JSONDecodeError:
        raise SnapshotFileError(f"{path}: corrupted (unreadable manifest)") from None
    payload = body[manifest_len:]
    values: dict[str, Any] = {name: manifest[name] for name in META_FIELDS}
    for name, (code, offset, count) in manifest["arrays"].items():
        length = count * struct.calcsize(code)
        if offset % ALIGN or offset + length > payload_len:
            raise SnapshotFileError(f"{path}: corrupted (array {name} out of bounds)")
        values[name] = payload[offset : offset + length].cast(code)
    values["insurer_index"] = {number: i for i, number in enumerate(values["insurer_numbers"])}
    values["p_id_big"] = {index: value for index, value in manifest["p_id_big"]}
    values["q_id_big"] = {index: value for index, value in manifest["q_id_big"]}
    try:
        data = SnapshotData(**values)
    except TypeError as exc:
        raise SnapshotFileError(f"{path}: arrays do not match this Onshi ({exc})") from None
    for layout in LAYOUTS:
        if len(getattr(data, layout.field)) % layout.size:
            raise SnapshotFileError(f"{path}: corrupted ({layout.field} is not a whole number of rows)")
    if data.persons != manifest["persons"] or data.qualifications != manifest["qualifications"]:
        raise SnapshotFileError(f"{path}: corrupted (counts do not match the arrays)")
    if len(data.p_qual) != data.persons + 1 or len(data.q_doc) != data.qualifications + 1:
        raise SnapshotFileError(f"{path}: corrupted (index arrays do not match the counts)")
    problem = index_problem(data)
    if problem is not None:
        raise SnapshotFileError(f"{path}: corrupted ({problem})")
    institutions = manifest["institutions"]
    if type(institutions) is not dict or not all(
        type(k) is str and len(k) == 64 and type(v) is str and len(v) == 10 and v.isdigit()
        for k, v in institutions.items()
    ):
        raise SnapshotFileError(f"{path}: corrupted (institutions)")
    seq = manifest.get("seq", 0)  # files written before the seq was recorded: follow from 0
    if type(seq) is not int or seq < 0:
        raise SnapshotFileError(f"{path}: corrupted (change seq {seq!r})")
    rate_limits = manifest.get("rate_limits", {})  # files written before there were any: none
    if type(rate_limits) is not dict or not all(type(r) is int and r > 0 for r in rate_limits.values()):
        raise SnapshotFileError(f"{path}: corrupted (rate limits)")
    return OpenedSnapshot(data, institutions, seq, rate_limits)


def _within(values: Any, low: int, high: int) -> bool:
    """Every value in [low, high) (an empty column is)."""
    return len(values) == 0 or (low <= min(values) and max(values) < high)


def _ascending(values: Any, first: int, last: int) -> bool:
    return (
        values[0] == first
        and values[-1] == last
        and all(a <= b for a, b in zip(values, values[1:], strict=False))
    )


def index_problem(data: SnapshotData) -> str | None:
    """What is wrong with an index of `data` that the compiled core would follow unchecked
    (its bounds checks are off), or None.  Linear in the rows, in C loops but one."""
    persons, quals, arena = data.persons, data.qualifications, len(data.arena)
    documents, certificates = len(data.d_kind), len(data.c_person)
    checks = (
        ("p_qual", _ascending(data.p_qual, 0, quals)),
        ("q_doc", _ascending(data.q_doc, 0, documents)),
        ("q_person", _within(data.q_person, 0, persons)),
        ("q_insurer", _within(data.q_insurer, 0, len(data.insurer_numbers))),
        ("q_limit", _within(data.q_limit, -1, len(data.limit_names))),
        # A key's rows are linked upwards: a link back could make a lookup go round for ever.
        ("key_next", all(n == -1 or i < n < quals for i, n in enumerate(data.key_next))),
        ("key_slots", _within(data.key_slots, -1, quals) and -1 in data.key_slots),
        ("cert_slots", _within(data.cert_slots, -1, certificates) and -1 in data.cert_slots),
        ("c_person", _within(data.c_person, 0, persons)),
        ("p_name", _within(data.p_name, 0, arena)),
        ("p_kana", _within(data.p_kana, -1, arena)),
        ("q_symbol", _within(data.q_symbol, 0, arena)),
        ("q_number", _within(data.q_number, 0, arena)),
        ("c_serial", _within(data.c_serial, 0, arena)),
        ("insurer_late", len(data.insurer_late) == len(data.insurer_numbers)),
    )
    for name, sound in checks:
        if not sound:
            return f"{name} out of range"
    arena_view = data.arena
    for name in ("p_name", "p_kana", "q_symbol", "q_number"):
        if not _texts_fit(arena_view, getattr(data, name)):
            return f"a string of {name} runs past the arena"
    if not _serials_fit(arena_view, data.c_serial):
        return "a serial of c_serial runs past the arena"
    return None


def _texts_fit(arena: Any, offsets: Any) -> bool:
    """Each distinct string (core_ext._build.text_at's layout) ends within the arena."""
    size = len(arena)
    for offset in set(offsets):
        if offset < 0:
            continue  # none (p_kana)
        length, start = arena[offset], offset + 1
        if length == LONG_TEXT:
            if offset + 5 > size:
                return False
            length, start = int.from_bytes(arena[offset + 1 : offset + 5], "little"), offset + 5
        if start + length > size:
            return False
    return True


def _serials_fit(arena: Any, offsets: Any) -> bool:
    """Each packed serial (core_ext._build.pack_serial) has 1-32 digits within the arena."""
    size = len(arena)
    for offset in set(offsets):
        digits = arena[offset]
        if not 1 <= digits <= SERIAL_MAX or offset + 1 + (digits + 1) // 2 > size:
            return False
    return True
