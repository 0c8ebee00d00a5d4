"""Build the immutable snapshot: flat typed arrays, one string arena, two hash indexes.

Shared by both cores: `Core(data)` of either implementation reads the same
`SnapshotData`.  Everything that depends only on the data (a person's age
boundaries, a document's last valid day, a certificate's grace end, a
registration's last day) is computed once here, so a decision only compares
integers.

Layout (all day numbers are `date.toordinal()` values):
- persons, in input order; a person's qualifications are the contiguous rows
  `p_qual[i] : p_qual[i + 1]`, sorted by (acquired_on, qualification_id);
- qualifications; a qualification's documents are `q_doc[j] : q_doc[j + 1]`;
- the key index: an open-addressing table `key_slots` (linear probing from
  `home_slot`, load 0.7, -1 = empty) holds the first (lowest) qualification row of
  each (insurer, symbol, number) and `key_slot_tag` the top 16 bits of its hash;
  `key_next[q]` is the next row with q's key, -1 after the last (a slot names a row
  directly: one dependent load fewer than a slot naming a group list);
- the serial index: `cert_slots` / `cert_slot_tag` over certificates;
- strings (names, kana, symbols, numbers, serials) live in `arena` as UTF-8 behind
  their length, addressed by offset; a repeated string is stored once;
- the person, qualification and certificate columns are stored row by row
  (`_rows`), one cache line per lookup step instead of one per column.
"""

from __future__ import annotations

import hashlib
import itertools
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from . import schema
from ._codes import LEGACY_CARD
from ._rows import LAYOUT_OF, LAYOUTS, PERSON_ROWS, QUAL_ROWS, column_view, pack, row_count
from ._text import (
    NO_END,
    fnv1a,
    key_hash,
    parse_day,
    registration_last_day,
)

DEFAULT_LEGACY_CUTOFF = parse_day("2025-12-01") or 0
# Dates that are only compared with the confirmation date D (documents, certificates,
# registrations) are stored as int16 days from 2040-01-01, clamped to 1950-04..2129-09.
# D is always between 2000-01-01 and a year after today, so clamping never changes a
# comparison; EVENT_MAX also stands for "no end".  Dates shown in answers (birthdate,
# acquired_on, lost_on) keep full day numbers.
EVENT_BASE = parse_day("2040-01-01") or 0
EVENT_MIN = -32768
EVENT_MAX = 32767


def event_day(day: int | None, none: int = EVENT_MAX) -> int:
    """A day number as a clamped int16 offset from EVENT_BASE (`none` for None or NO_END)."""
    if day is None or day >= NO_END:
        return none
    return max(EVENT_MIN, min(EVENT_MAX, day - EVENT_BASE))


LATE_ELDERLY_LAW_CODE = "39"


class InsurerRow(NamedTuple):
    insurer_number: str
    name: str
    legacy_card_valid_until: int | None
    extra: tuple[Any, ...] = ()  # the columns no rule reads (see HELD)


class PersonRow(NamedTuple):
    person_id: int
    name: str
    name_kana: str | None
    sex: int
    birthdate: int
    extra: tuple[Any, ...] = ()  # the columns no rule reads (see HELD)


class QualificationRow(NamedTuple):
    qualification_id: int
    person_id: int
    insurer_number: str
    symbol: str
    number: str
    branch: int  # -1 when recorded without a branch
    relationship: int
    acquired_on: int
    lost_on: int | None
    income_class: int
    limit_category: str | None
    extra: tuple[Any, ...] = ()  # the columns no rule reads (see HELD)


class DocumentRow(NamedTuple):
    document_id: int
    qualification_id: int
    kind: int
    issued_on: int
    valid_until: int | None
    void_from: int | None
    extra: tuple[Any, ...] = ()  # the columns no rule reads (see HELD)


class CertificateRow(NamedTuple):
    certificate_serial: str
    person_id: int
    issued_on: int
    expires_on: int
    revoked_on: int | None
    face_only: bool
    extra: tuple[Any, ...] = ()  # the columns no rule reads (see HELD)


class RegistrationRow(NamedTuple):
    person_id: int
    registered_on: int
    deregistration_requested_on: int | None
    extra: tuple[Any, ...] = ()  # the columns no rule reads (see HELD)


# Neither container may have the dataclass repr, which prints every row: Python 3.11's
# asyncio.run formats the finished main task (its result included) when it puts back
# the SIGINT handler it installed, which it does whenever SIGINT is not ignored (any
# command but one a non-interactive shell started with &). A snapshot returned through
# asyncio.run would be printed whole, taking minutes and gigabytes at national scale
# (tests/core_ext/test_repr.py).


@dataclass(repr=False)
class Tables:
    """Validated rows of every entity, canonical values, ready to build a snapshot."""

    insurers: list[InsurerRow] = field(default_factory=list)
    persons: list[PersonRow] = field(default_factory=list)
    qualifications: list[QualificationRow] = field(default_factory=list)
    documents: list[DocumentRow] = field(default_factory=list)
    certificates: list[CertificateRow] = field(default_factory=list)
    registrations: list[RegistrationRow] = field(default_factory=list)

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={len(rows)}" for name, rows in vars(self).items())
        return f"Tables({counts})"


# Each table's row type.  A row holds a prefix of its table's columns in core_ext.schema,
# the ones some rule, index or answer reads (HELD), then `extra`: the values of the
# columns after them (UNHELD), validated and stored but never read by a decision.  So a
# new stored-only column is declared in the schema and a migration, and nowhere else;
# `extra` is () when every one of them is empty, so rows compare equal however they
# were read.
ROW_TYPES: dict[str, Any] = {
    "insurers": InsurerRow,
    "persons": PersonRow,
    "qualifications": QualificationRow,
    "documents": DocumentRow,
    "certificates": CertificateRow,
    "registrations": RegistrationRow,
}
EXTRA = "extra"
HELD: dict[str, tuple[str, ...]] = {table: row._fields[:-1] for table, row in ROW_TYPES.items()}
UNHELD: dict[str, tuple[schema.Column, ...]] = {
    table: schema.BY_TABLE[table].columns[len(held) :] for table, held in HELD.items()
}
# The forms a column no rule reads may have: those whose data-set check needs nothing
# beyond the form itself (a code needs its normaliser, a branch or secret its own rule).
UNHELD_FORMS = frozenset(
    {
        schema.Form.ID,
        schema.Form.TEXT,
        schema.Form.SMALL,
        schema.Form.DAY,
        schema.Form.CHOICE,
        schema.Form.FLAG,
    }
)


def _check_rows_against_schema() -> None:
    """Refuse to import when a row type and the schema disagree (one of them was edited alone)."""
    tables = [f.name for f in fields(Tables)]
    if tables != list(ROW_TYPES) or any(t not in schema.BY_TABLE for t in tables):
        raise RuntimeError(f"Tables {tables} and ROW_TYPES {list(ROW_TYPES)} must be schema tables, in order")
    for table, row in ROW_TYPES.items():
        entity = schema.BY_TABLE[table]
        held = HELD[table]
        if row._fields[-1] != EXTRA or held != entity.names[: len(held)] or entity.key not in held:
            raise RuntimeError(
                f"{row.__name__} must hold a prefix of core_ext.schema's {table} columns"
                f" (the key among them), then {EXTRA!r}"
            )
        for column in UNHELD[table]:
            if not column.nullable or column.form not in UNHELD_FORMS:
                raise RuntimeError(
                    f"{table}.{column.name}: a column no row holds must be optional, stored as NULL"
                    f" when empty, and one of {sorted(f.value for f in UNHELD_FORMS)}"
                )


_check_rows_against_schema()


def row_maker(table: str) -> Callable[[Sequence[Any]], Any]:
    """Make a row from its table's values in schema order (as the database returns them)."""
    row = ROW_TYPES[table]
    held = len(HELD[table])
    if not UNHELD[table]:
        return lambda values: row(*values)

    def make(values: Sequence[Any]) -> Any:
        extra = tuple(values[held:])
        return row(*values[:held], extra if any(v is not None for v in extra) else ())

    return make


def row_values(table: str, row: Any) -> tuple[Any, ...]:
    """A row's values in its table's schema order (the inverse of `row_maker`)."""
    unheld = len(UNHELD[table])
    if not unheld:
        return tuple(row[:-1])
    return (*row[:-1], *(row.extra or (None,) * unheld))


class RowColumn:
    """A column kept in a row buffer (see `_rows`), read as a strided memoryview.

    The view is made on first use and then found in the instance's __dict__."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.layout = LAYOUT_OF[name]

    def __get__(self, obj: object, owner: type | None = None) -> memoryview:
        if obj is None:
            raise AttributeError(self.name)
        view = column_view(self.layout, getattr(obj, self.layout.field), self.name)
        obj.__dict__[self.name] = view
        return view


@dataclass(repr=False)
class SnapshotData:
    """The arrays of one snapshot generation (see the module docstring).

    The columns a decision reads together are stored in rows (q_rows, p_rows, c_rows:
    see `_rows`) and read by name through RowColumn views: p_id, p_birth, p_name,
    p_kana, p_qual, p_reg_from, p_reg_last; q_id, q_person, q_insurer, q_symbol,
    q_number, q_branch, q_relationship, q_acquired, q_lost, q_income, q_limit, q_sex;
    c_person, c_serial, c_issued, c_expires, c_revoked, c_face_only.  Build one from
    columns with `SnapshotData(**with_rows(columns))`."""

    version: str
    arena: bytes
    insurer_numbers: list[str]
    insurer_names: list[str]
    insurer_late: array
    insurer_index: dict[str, int]
    p_rows: Any  # PERSON_ROWS, persons + 1 rows (the last holds only p_qual's end)
    p_sex: array
    q_rows: Any  # QUAL_ROWS
    q_doc: array
    limit_names: list[str]
    d_kind: array
    d_issued: array  # event days (int16):
    d_until: array  # last valid day (for a legacy card, capped by the insurer cut-off)
    d_void: array  # first day no longer valid (void_from)
    key_next: array  # per qualification: the next row with the same key, -1 = the last
    key_slots: array
    key_slot_tag: array  # uint16: the top 16 bits of each slot's hash
    c_rows: Any  # CERT_ROWS
    cert_slots: array
    cert_slot_tag: array
    p_id_big: dict[int, int] = field(default_factory=dict)  # person index -> id
    q_id_big: dict[int, int] = field(default_factory=dict)  # qualification index -> id

    p_id = RowColumn()  # uint32; BIG_ID marks an id kept in p_id_big (ids of 2^32 - 1 and more)
    p_birth = RowColumn()
    p_name = RowColumn()  # arena offsets (length-prefixed strings)
    p_kana = RowColumn()  # arena offsets; -1 = none
    p_qual = RowColumn()
    p_reg_from = RowColumn()  # event day (int16, see event_day); EVENT_MAX = not registered
    p_reg_last = RowColumn()  # event day; EVENT_MIN when not registered
    q_id = RowColumn()  # uint32; BIG_ID marks an id kept in q_id_big
    q_person = RowColumn()
    q_insurer = RowColumn()  # int16
    q_symbol = RowColumn()  # arena offsets
    q_number = RowColumn()  # arena offsets
    q_branch = RowColumn()
    q_relationship = RowColumn()
    q_acquired = RowColumn()
    q_lost = RowColumn()
    q_income = RowColumn()
    q_limit = RowColumn()  # int8 index into limit_names, -1 = none
    q_sex = RowColumn()  # p_sex of q_person
    c_person = RowColumn()
    c_serial = RowColumn()  # arena offsets of packed serials (pack_serial)
    c_issued = RowColumn()  # event days (int16); the grace end is computed from c_expires
    c_expires = RowColumn()
    c_revoked = RowColumn()
    c_face_only = RowColumn()

    @property
    def persons(self) -> int:
        return row_count(PERSON_ROWS, self.p_rows)

    @property
    def qualifications(self) -> int:
        return row_count(QUAL_ROWS, self.q_rows)

    def __repr__(self) -> str:
        return (
            f"SnapshotData(version={self.version!r}, persons={self.persons}, "
            f"qualifications={self.qualifications}, arena={len(self.arena)} bytes)"
        )


def database_order_problem(data: SnapshotData) -> str | None:
    """None when `data` has the order of a snapshot rebuilt from the database, else what breaks it.

    A snapshot made from PostgreSQL (service.db.snapshot, either builder) has its persons
    in ascending person_id and its certificates grouped by person in ascending row;
    service.db.overlay finds a person's rows in it by bisection and relies on both.  A
    data set's snapshot keeps the order of its files and need not have it."""
    ids = [id_at(data.p_id, data.p_id_big, i) for i in range(data.persons)]
    if any(a >= b for a, b in itertools.pairwise(ids)):
        return "persons are not in ascending person_id"
    if any(a > b for a, b in itertools.pairwise(data.c_person)):
        return "certificates are not grouped by person in ascending row"
    return None


def with_rows(columns: dict[str, Any]) -> dict[str, Any]:
    """SnapshotData's fields from every column: the row-grouped ones packed (and dropped)."""
    p_sex = columns["p_sex"]
    columns["q_sex"] = array("b", map(p_sex.__getitem__, columns["q_person"]))
    for layout in LAYOUTS:
        columns[layout.field] = pack(layout, {name: columns.pop(name) for name in layout.columns})
    return columns


LONG_TEXT = 255  # a length byte of 255 is followed by the length as 4 bytes (little-endian)


def text_at(arena: bytes | memoryview, offset: int) -> bytes:
    """The string stored at `offset` of an arena (see _Arena)."""
    length = arena[offset]
    start = offset + 1
    if length == LONG_TEXT:
        length = int.from_bytes(arena[offset + 1 : offset + 5], "little")
        start = offset + 5
    return bytes(arena[start : start + length])


def pack_serial(serial: str) -> bytes:
    """A canonical (upper-case hex) serial as stored: its digit count, then the digits packed two per byte."""
    digits = serial + ("0" if len(serial) % 2 else "")
    return bytes([len(serial)]) + bytes.fromhex(digits)


class _Arena:
    """Append-only UTF-8 string store; each distinct string is written once, after its length.

    A reference is one 4-byte offset: the length byte (or 255 and a 4-byte length for
    long text) sits in front of the bytes, so no separate length array is needed.
    """

    def __init__(self) -> None:
        self.buf = bytearray()
        self.seen: dict[str, int] = {}

    def add(self, text: str) -> int:
        return self.add_bytes(text, text.encode())

    def add_bytes(self, key: str, raw: bytes) -> int:
        offset = self.seen.get(key)
        if offset is None:
            offset = len(self.buf)
            if len(raw) < LONG_TEXT:
                self.buf.append(len(raw))
            else:
                self.buf.append(LONG_TEXT)
                self.buf += len(raw).to_bytes(4, "little")
            self.buf += raw
            self.seen[key] = offset
        return offset


MAX_LOAD = 0.7


def slot_tag(h: int) -> int:
    """The 16 bits of a hash kept per slot: most probes of other keys stop at the tag."""
    return h >> 48


def home_slot(h: int, size: int) -> int:
    """Where probing for hash `h` starts: the hash mixed, then scaled to the table (no power of two).

    FNV-1a's low 32 bits depend only on the low 32 bits of its state, multiplied by a small
    prime, so on similar short keys (serials in sequence) they cluster: with the low bits
    taken directly, the demo's certificate table had runs of 18,000 occupied slots.  Folding
    the high half in and taking the top of a Fibonacci multiply spreads them.
    """
    mixed = ((h ^ (h >> 32)) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    return ((mixed >> 32) * size) >> 32


def _table(entries: Sequence[tuple[int, int]], count: int) -> tuple[array, array]:
    """Open-addressing table of (value, hash) pairs, linear probing at load 0.7: (slots, tags)."""
    size = max(8, int(count / MAX_LOAD) + 1)
    slots = array("i", [-1]) * size
    tags = array("H", [0]) * size
    for value, h in entries:
        i = home_slot(h, size)
        while slots[i] != -1:
            i = i + 1 if i + 1 < size else 0
        slots[i] = value
        tags[i] = slot_tag(h)
    return slots, tags


def _legacy_cutoff(insurer: InsurerRow) -> int:
    return insurer.legacy_card_valid_until or DEFAULT_LEGACY_CUTOFF


BIG_ID = 0xFFFFFFFF


def _ids(ids: list[int], big: dict[int, int]) -> array:
    """Ids as uint32; the rare id that does not fit is kept in `big` by position."""
    out = array("I", [BIG_ID]) * len(ids)
    for i, value in enumerate(ids):
        if value < BIG_ID:
            out[i] = value
        else:
            big[i] = value
    return out


def id_at(ids: Any, big: dict[int, int], i: int) -> int:
    value: int = ids[i]
    return big[i] if value == BIG_ID else value


def build_snapshot(tables: Tables, hash_key: Callable[[int, bytes, bytes], int] = key_hash) -> SnapshotData:
    """Turn validated tables into a snapshot; `hash_key` may be the compiled twin of key_hash."""
    arena = _Arena()
    insurer_index = {ins.insurer_number: i for i, ins in enumerate(tables.insurers)}
    cutoff = [_legacy_cutoff(ins) for ins in tables.insurers]

    persons = tables.persons
    person_index = {p.person_id: i for i, p in enumerate(persons)}
    registration = {r.person_id: r for r in tables.registrations}
    p_name = array("i")
    p_kana = array("i")
    p_reg_from = array("h")
    p_reg_last = array("h")
    for p in persons:
        p_name.append(arena.add(p.name))
        p_kana.append(arena.add(p.name_kana) if p.name_kana is not None else -1)
        reg = registration.get(p.person_id)
        if reg is None:
            p_reg_from.append(EVENT_MAX)
            p_reg_last.append(EVENT_MIN)
        else:
            p_reg_from.append(event_day(reg.registered_on))
            requested = reg.deregistration_requested_on
            p_reg_last.append(event_day(None if requested is None else registration_last_day(requested)))

    quals = sorted(
        tables.qualifications,
        key=lambda q: (person_index[q.person_id], q.acquired_on, q.qualification_id),
    )
    qual_index = {q.qualification_id: j for j, q in enumerate(quals)}
    p_qual = array("i", [0]) * (len(persons) + 1)
    for q in quals:
        p_qual[person_index[q.person_id] + 1] += 1
    for i in range(len(persons)):
        p_qual[i + 1] += p_qual[i]

    limit_names = sorted({q.limit_category for q in quals if q.limit_category is not None})
    limit_index = {name: k for k, name in enumerate(limit_names)}
    q_symbol = array("i")
    q_number = array("i")
    groups: dict[tuple[int, str, str], list[int]] = {}
    for j, q in enumerate(quals):
        q_symbol.append(arena.add(q.symbol))
        q_number.append(arena.add(q.number))
        groups.setdefault((insurer_index[q.insurer_number], q.symbol, q.number), []).append(j)
    # A key's rows, ascending: its slot names the first, key_next links the others.
    key_next = array("i", [-1]) * len(quals)
    starts = []
    for (ins, symbol, number), members in groups.items():
        starts.append((members[0], hash_key(ins, symbol.encode(), number.encode())))
        for here, after in itertools.pairwise(members):
            key_next[here] = after
    key_slots, key_slot_tag = _table(starts, len(starts))

    docs = sorted(
        tables.documents, key=lambda d: (qual_index[d.qualification_id], d.issued_on, d.document_id)
    )
    q_doc = array("i", [0]) * (len(quals) + 1)
    d_until = array("h")
    for d in docs:
        j = qual_index[d.qualification_id]
        q_doc[j + 1] += 1
        until = NO_END if d.valid_until is None else d.valid_until
        if d.kind == LEGACY_CARD:  # the insurer's cut-off also ends a legacy card
            until = min(until, cutoff[insurer_index[quals[j].insurer_number]])
        d_until.append(event_day(until))
    for j in range(len(quals)):
        q_doc[j + 1] += q_doc[j]

    certs = tables.certificates
    c_serial = array("i")
    for c in certs:
        c_serial.append(arena.add_bytes("\0" + c.certificate_serial, pack_serial(c.certificate_serial)))
    cert_slots, cert_slot_tag = _table(
        [(i, fnv1a(c.certificate_serial.encode())) for i, c in enumerate(certs)], len(certs)
    )

    if len(tables.insurers) > 32767 or len(limit_names) > 127:
        raise ValueError("more insurers or limit categories than the snapshot layout holds")
    p_id_big: dict[int, int] = {}
    q_id_big: dict[int, int] = {}
    fingerprint = hashlib.sha256(bytes(arena.buf))
    fingerprint.update(repr((len(persons), len(quals), len(docs), len(certs))).encode())
    columns = dict(
        version=fingerprint.hexdigest()[:16],
        arena=bytes(arena.buf),
        insurer_numbers=[ins.insurer_number for ins in tables.insurers],
        insurer_names=[ins.name for ins in tables.insurers],
        insurer_late=array(
            "b",
            (
                len(ins.insurer_number) == 8 and ins.insurer_number[:2] == LATE_ELDERLY_LAW_CODE
                for ins in tables.insurers
            ),
        ),
        insurer_index=insurer_index,
        p_id=_ids([p.person_id for p in persons], p_id_big),
        p_birth=array("i", (p.birthdate for p in persons)),
        p_sex=array("b", (p.sex for p in persons)),
        p_name=p_name,
        p_kana=p_kana,
        p_qual=p_qual,
        p_reg_from=p_reg_from,
        p_reg_last=p_reg_last,
        q_id=_ids([q.qualification_id for q in quals], q_id_big),
        q_person=array("i", (person_index[q.person_id] for q in quals)),
        q_insurer=array("h", (insurer_index[q.insurer_number] for q in quals)),
        q_symbol=q_symbol,
        q_number=q_number,
        q_branch=array("b", (q.branch for q in quals)),
        q_relationship=array("b", (q.relationship for q in quals)),
        q_acquired=array("i", (q.acquired_on for q in quals)),
        q_lost=array("i", (NO_END if q.lost_on is None else q.lost_on for q in quals)),
        q_income=array("b", (q.income_class for q in quals)),
        q_limit=array(
            "b",
            (-1 if q.limit_category is None else limit_index[q.limit_category] for q in quals),
        ),
        q_doc=q_doc,
        limit_names=limit_names,
        d_kind=array("b", (d.kind for d in docs)),
        d_issued=array("h", (event_day(d.issued_on) for d in docs)),
        d_until=d_until,
        d_void=array("h", (event_day(d.void_from) for d in docs)),
        key_next=key_next,
        key_slots=key_slots,
        key_slot_tag=key_slot_tag,
        c_person=array("i", (person_index[c.person_id] for c in certs)),
        c_serial=c_serial,
        c_issued=array("h", (event_day(c.issued_on) for c in certs)),
        c_expires=array("h", (event_day(c.expires_on) for c in certs)),
        c_revoked=array("h", (event_day(c.revoked_on) for c in certs)),
        c_face_only=array("b", (1 if c.face_only else 0 for c in certs)),
        cert_slots=cert_slots,
        cert_slot_tag=cert_slot_tag,
        p_id_big=p_id_big,
        q_id_big=q_id_big,
    )
    return SnapshotData(**with_rows(columns))
