# cython: language_level=3
"""Build a snapshot straight from PostgreSQL binary COPY streams, without row objects.

`StreamBuilder` parses each table's `COPY (SELECT ...) TO STDOUT (FORMAT binary)`
output, chunk by chunk in any chunking, into typed columns: the only Python objects
made per row are the strings looked up for interning.  `finish()` then sorts and
indexes the columns into the layout `_build.build_snapshot` makes from validated
rows (see that module's docstring), with two orders fixed that the follower's
overlay relies on:

- persons are in ascending person_id (the persons stream must arrive so);
- certificates are grouped by person (`c_person` ascending), so a person's
  certificates are found by bisection.

Tables are fed in reference order, each completely: persons, qualifications,
documents, certificates, registrations (core_ext.schema.SNAPSHOT_STREAMS), each
with its columns in core_ext.schema, branch and choices as integers (service/db/snapshot.py
writes the SELECTs).  Integer columns may be int2, int4 or int8; dates are PostgreSQL dates; nulls are allowed
only where the entity allows them.  A violated assumption (unknown person or
qualification, unsorted persons, wrong column count) raises ValueError: the
database's constraints make it a bug, not bad data.

The pure-Python path is `_build.build_snapshot` over rows fetched the ordinary
way; tests/db/test_stream.py checks that both give the same snapshot.
"""

import hashlib
from array import array

from cpython cimport array as carray
from cpython.bytes cimport PyBytes_AS_STRING
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

from ._build import (
    BIG_ID as _BIG_ID,
    EVENT_BASE as _EVENT_BASE,
    HELD as _HELD,
    LATE_ELDERLY_LAW_CODE,
    MAX_LOAD as _MAX_LOAD,
    SnapshotData,
    _legacy_cutoff,
    with_rows,
)
from ._codes import LEGACY_CARD as _LEGACY_CARD
from ._text import NO_END as _NO_END, registration_last_day
from . import schema as _schema

from ._arena cimport LONG_TEXT, pack_serial, text_at
from ._hashing cimport FNV_BASIS, fnv1a, home_slot, key_hash_c

# Each stream's columns: those its rows hold (service.db.snapshot.COPY_SELECT reads them so).
STAGES = _schema.SNAPSHOT_STREAMS
COLUMNS = {table: _HELD[table] for table in STAGES}
# Per stage, per column: whether a NULL may come (an optional column; a branch is read
# coalesced).  A NULL anywhere else is refused, never read as a length of -1.
cdef tuple NULLABLE = tuple(
    tuple(
        c.optional and c.form is not _schema.Form.BRANCH
        for c in _schema.BY_TABLE[table].columns
        if c.name in COLUMNS[table]
    )
    for table in STAGES
)

cdef bytes SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
cdef int PG_EPOCH = 730120  # date(2000, 1, 1).toordinal(): PostgreSQL dates count from it
cdef int EVENT_BASE = _EVENT_BASE
cdef int NO_END = _NO_END
cdef int LEGACY_CARD = _LEGACY_CARD
cdef unsigned int BIG_ID = _BIG_ID
cdef double MAX_LOAD = _MAX_LOAD
cdef int EVENT_MIN = -32768
cdef int EVENT_MAX = 32767
cdef int MAX_FIELDS = 16

# The builder's parts, by concern (each a set of module-level functions).
include "_copy_binary.pxi"
include "_idmap.pxi"
include "_strings.pxi"
include "_indexes.pxi"


cdef class StreamBuilder:
    """Typed columns from binary COPY streams, then `finish()` -> SnapshotData."""

    cdef list insurers
    cdef Strings insurer_of  # entry number = insurer index
    cdef carray.array cutoff
    cdef int stage
    cdef bytearray pending
    cdef bint header_done
    cdef bint stream_done
    # strings
    cdef Strings arena
    cdef Strings limits  # limit categories in first-seen order
    cdef dict reg_last_cache
    # persons
    cdef carray.array p_id64, p_name, p_kana, p_sex, p_birth, p_reg_from, p_reg_last
    cdef long long last_person
    cdef IdMap persons
    # qualifications as parsed
    cdef carray.array pq_id, pq_person, pq_insurer, pq_symbol, pq_number, pq_branch
    cdef carray.array pq_relationship, pq_acquired, pq_lost, pq_income, pq_limit
    # qualifications, final order
    cdef dict result
    cdef IdMap quals
    # documents as parsed
    cdef carray.array pd_id, pd_qual, pd_kind, pd_issued, pd_until, pd_void
    # certificates as parsed
    cdef carray.array pc_person, pc_serial, pc_hash, pc_issued, pc_expires, pc_revoked, pc_face

    def __cinit__(self):
        memset(&self.persons, 0, sizeof(IdMap))
        memset(&self.quals, 0, sizeof(IdMap))
        strings_init(&self.arena)
        strings_init(&self.limits)
        strings_init(&self.insurer_of)

    def __dealloc__(self):
        idmap_free(&self.persons)
        idmap_free(&self.quals)
        strings_free(&self.arena)
        strings_free(&self.limits)
        strings_free(&self.insurer_of)

    def __init__(self, insurers):
        """`insurers`: InsurerRow list in the order that defines insurer indexes."""
        if len(insurers) > 32767:
            raise ValueError("more insurers than the snapshot layout holds")
        self.insurers = list(insurers)
        for ins in self.insurers:
            number = ins.insurer_number.encode()
            strings_find(&self.insurer_of, number, len(number), True)
        self.cutoff = array("i", [_legacy_cutoff(ins) for ins in self.insurers])
        self.stage = 0
        self.pending = bytearray()
        self.header_done = False
        self.stream_done = False
        self.reg_last_cache = {}
        self.result = {}
        self.last_person = 0
        self.p_id64 = array("q")
        self.p_name = array("i")
        self.p_kana = array("i")
        self.p_sex = array("b")
        self.p_birth = array("i")
        self.pq_id = array("q")
        self.pq_person = array("i")
        self.pq_insurer = array("h")
        self.pq_symbol = array("i")
        self.pq_number = array("i")
        self.pq_branch = array("b")
        self.pq_relationship = array("b")
        self.pq_acquired = array("i")
        self.pq_lost = array("i")
        self.pq_income = array("b")
        self.pq_limit = array("h")
        self.pd_id = array("q")
        self.pd_qual = array("i")
        self.pd_kind = array("b")
        self.pd_issued = array("i")
        self.pd_until = array("i")
        self.pd_void = array("i")
        self.pc_person = array("i")
        self.pc_serial = array("i")
        self.pc_hash = array("Q")
        self.pc_issued = array("h")
        self.pc_expires = array("h")
        self.pc_revoked = array("h")
        self.pc_face = array("b")

    # ------------------------------------------------------------------ streams

    def feed(self, str table, chunk):
        """Parse one chunk of `table`'s binary COPY stream (tables in STAGES order)."""
        cdef int stage = STAGES.index(table)
        if stage < self.stage:
            raise ValueError(f"{table} fed after a later table")
        while self.stage < stage:
            self._end_stage()
        self.pending += chunk
        self._parse()

    def end(self, str table):
        """Declare `table`'s stream complete and index it (slow at scale: call it off the event loop)."""
        cdef int stage = STAGES.index(table)
        while self.stage <= stage:
            self._end_stage()

    cdef int _end_stage(self) except -1:
        if self.pending or (self.header_done and not self.stream_done):
            raise ValueError(f"the {STAGES[self.stage]} stream ended inside a row")
        if self.stage == 0:
            self._end_persons()
        elif self.stage == 1:
            self._end_qualifications()
        elif self.stage == 2:
            self._end_documents()
        elif self.stage == 3:
            self._end_certificates()
        self.stage += 1
        self.header_done = False
        self.stream_done = False
        return 0

    cdef int _parse(self) except -1:
        cdef const unsigned char* buf = <const unsigned char*>PyByteArray_AS_STRING(self.pending)
        cdef Py_ssize_t n = PyByteArray_GET_SIZE(self.pending)
        cdef Py_ssize_t pos = 0, p
        cdef int nf, i
        cdef int length
        cdef const unsigned char* fp[16]
        cdef int fl[16]
        cdef bint complete
        if not self.header_done:
            if n < 19:
                return 0
            if memcmp(buf, PyBytes_AS_STRING(SIGNATURE), 11) != 0:
                raise ValueError("not a binary COPY stream")
            length = <int>be_int(buf + 15, 4)
            if length < 0:
                raise ValueError("a COPY header extension of negative length")
            if n < 19 + length:
                return 0
            pos = 19 + length
            self.header_done = True
        while not self.stream_done and pos + 2 <= n:
            nf = <int>be_int(buf + pos, 2)
            if nf == -1:
                self.stream_done = True
                pos += 2
                break
            if nf < 0 or nf > MAX_FIELDS:
                raise ValueError("a COPY row with an impossible field count")
            p = pos + 2
            complete = True
            for i in range(nf):
                if p + 4 > n:
                    complete = False
                    break
                length = <int>be_int(buf + p, 4)
                p += 4
                if length < -1:
                    raise ValueError("a COPY field of negative length")
                if length == -1:
                    fp[i] = NULL
                    fl[i] = -1
                else:
                    if p + length > n:
                        complete = False
                        break
                    fp[i] = buf + p
                    fl[i] = length
                    p += length
            if not complete:
                break
            self._row(nf, fp, fl)
            pos = p
        del self.pending[:pos]
        return 0

    cdef int _row(self, int nf, const unsigned char** fp, const int* fl) except -1:
        if nf != len(COLUMNS[STAGES[self.stage]]):
            raise ValueError(f"{STAGES[self.stage]}: expected {len(COLUMNS[STAGES[self.stage]])} columns")
        cdef tuple nullable = <tuple>NULLABLE[self.stage]
        cdef int i
        for i in range(nf):
            if fl[i] < 0 and not nullable[i]:
                raise ValueError(f"{STAGES[self.stage]}: NULL in {COLUMNS[STAGES[self.stage]][i]}")
        if self.stage == 0:
            return self._person(fp, fl)
        if self.stage == 1:
            return self._qualification(fp, fl)
        if self.stage == 2:
            return self._document(fp, fl)
        if self.stage == 3:
            return self._certificate(fp, fl)
        return self._registration(fp, fl)

    # ----------------------------------------------------------------- strings

    cdef inline int _intern(self, const unsigned char* p, Py_ssize_t n) except -2:
        return strings_intern(&self.arena, p, n)

    cdef inline long long _day(self, const unsigned char* p, int n, long long none) except? -1:
        if p == NULL:
            return none
        return be_int(p, n) + PG_EPOCH

    cdef inline int _person_index(self, const unsigned char* p, int n) except -1:
        if p == NULL:
            raise ValueError("a row without its person")
        cdef int i = idmap_get(&self.persons, be_int(p, n))
        if i < 0:
            raise ValueError("a row references a person that is not in the persons stream")
        return i

    # ------------------------------------------------------------------ persons

    cdef int _person(self, const unsigned char** fp, const int* fl) except -1:
        cdef long long pid = be_int(fp[0], fl[0])
        if pid <= self.last_person:
            raise ValueError("persons must arrive in ascending person_id order, each once")
        self.last_person = pid
        push(self.p_id64, pid)
        push(self.p_name, self._intern(fp[1], fl[1]))
        push(self.p_kana, -1 if fp[2] == NULL else self._intern(fp[2], fl[2]))
        push(self.p_sex, be_int(fp[3], fl[3]))
        push(self.p_birth, self._day(fp[4], fl[4], 0))
        return 0

    cdef int _end_persons(self) except -1:
        cdef Py_ssize_t n = len(self.p_id64), i
        cdef long long* ids = self.p_id64.data.as_longlongs
        idmap_build(&self.persons, ids, NULL, n)  # ascending: unique
        self.p_reg_from = zeros(I16, n)
        self.p_reg_last = zeros(I16, n)
        for i in range(n):
            self.p_reg_from.data.as_shorts[i] = EVENT_MAX
            self.p_reg_last.data.as_shorts[i] = EVENT_MIN
        return 0

    # ------------------------------------------------------------ qualifications

    cdef int _qualification(self, const unsigned char** fp, const int* fl) except -1:
        push(self.pq_id, be_int(fp[0], fl[0]))
        push(self.pq_person, self._person_index(fp[1], fl[1]))
        cdef int insurer = strings_find(&self.insurer_of, fp[2], fl[2], False)
        if insurer < 0:
            raise ValueError("a qualification references an insurer that is not in the insurer list")
        push(self.pq_insurer, insurer)
        push(self.pq_symbol, self._intern(fp[3], fl[3]))
        push(self.pq_number, self._intern(fp[4], fl[4]))
        push(self.pq_branch, be_int(fp[5], fl[5]))
        push(self.pq_relationship, be_int(fp[6], fl[6]))
        push(self.pq_acquired, self._day(fp[7], fl[7], 0))
        push(self.pq_lost, self._day(fp[8], fl[8], NO_END))
        push(self.pq_income, be_int(fp[9], fl[9]))
        cdef int limit = -1 if fp[10] == NULL else strings_find(&self.limits, fp[10], fl[10], True)
        push(self.pq_limit, limit)
        return 0

    cdef int _end_qualifications(self) except -1:
        cdef Py_ssize_t nq = len(self.pq_id), npers = len(self.p_id64), j, g, r
        if self.limits.count > 127:
            raise ValueError("more limit categories than the snapshot layout holds")
        cdef Py_ssize_t length
        cdef const unsigned char* text
        seen = []
        for g in range(self.limits.count):
            text = text_at(self.limits.buf, self.limits.offsets[g], &length)
            seen.append((<const char*>text)[:length].decode())
        limit_names = sorted(seen)
        cdef carray.array remap = array("h", [limit_names.index(name) for name in seen])
        cdef carray.array p_qual = zeros(I32, npers + 1)
        cdef carray.array order = bucket_order(self.pq_person.data.as_ints, nq, npers, p_qual.data.as_ints)
        cdef int* o = order.data.as_ints
        sort_runs(o, p_qual.data.as_ints, npers, self.pq_acquired.data.as_ints, self.pq_id.data.as_longlongs)

        cdef carray.array q_person = permuted(self.pq_person, o, nq)
        cdef carray.array q_insurer = permuted(self.pq_insurer, o, nq)
        cdef carray.array q_symbol = permuted(self.pq_symbol, o, nq)
        cdef carray.array q_number = permuted(self.pq_number, o, nq)
        cdef carray.array q_branch = permuted(self.pq_branch, o, nq)
        cdef carray.array q_relationship = permuted(self.pq_relationship, o, nq)
        cdef carray.array q_acquired = permuted(self.pq_acquired, o, nq)
        cdef carray.array q_lost = permuted(self.pq_lost, o, nq)
        cdef carray.array q_income = permuted(self.pq_income, o, nq)
        cdef carray.array q_limit = zeros(I8, nq)
        cdef const short* limit_seen = self.pq_limit.data.as_shorts
        cdef const short* limit_final = remap.data.as_shorts
        cdef signed char* limit_out = q_limit.data.as_schars
        cdef const long long* ids = self.pq_id.data.as_longlongs
        q_id = zeros(U32, nq)
        cdef unsigned int* id_out = (<carray.array>q_id).data.as_uints
        cdef long long qid
        with nogil:
            for j in range(nq):
                r = o[j]
                limit_out[j] = -1 if limit_seen[r] < 0 else limit_final[limit_seen[r]]
                qid = ids[r]
                id_out[j] = <unsigned int>qid if qid < BIG_ID else BIG_ID
        if not idmap_build(&self.quals, ids, o, nq):
            raise ValueError("a qualification_id appears twice")
        q_id_big = {j: ids[o[j]] for j in range(nq) if id_out[j] == BIG_ID}
        self.pq_id = self.pq_person = self.pq_insurer = self.pq_symbol = self.pq_number = None
        self.pq_branch = self.pq_relationship = self.pq_acquired = self.pq_lost = None
        self.pq_income = self.pq_limit = None
        self.result.update(
            p_qual=p_qual, q_id=q_id, q_id_big=q_id_big, q_person=q_person, q_insurer=q_insurer,
            q_symbol=q_symbol, q_number=q_number, q_branch=q_branch, q_relationship=q_relationship,
            q_acquired=q_acquired, q_lost=q_lost, q_income=q_income, q_limit=q_limit,
            limit_names=limit_names,
        )
        self.result.update(key_index(self.arena.buf, q_insurer, q_symbol, q_number))
        return 0

    # ---------------------------------------------------------------- documents

    cdef int _document(self, const unsigned char** fp, const int* fl) except -1:
        push(self.pd_id, be_int(fp[0], fl[0]))
        cdef int j = idmap_get(&self.quals, be_int(fp[1], fl[1]))
        if j < 0:
            raise ValueError("a document references a qualification that is not in its stream")
        push(self.pd_qual, j)
        push(self.pd_kind, be_int(fp[2], fl[2]))
        push(self.pd_issued, self._day(fp[3], fl[3], 0))
        push(self.pd_until, self._day(fp[4], fl[4], NO_END))
        push(self.pd_void, self._day(fp[5], fl[5], NO_END))
        return 0

    cdef int _end_documents(self) except -1:
        cdef Py_ssize_t nd = len(self.pd_id), nq = len(self.result["q_id"]), k, r
        cdef carray.array q_doc = zeros(I32, nq + 1)
        cdef carray.array order = bucket_order(self.pd_qual.data.as_ints, nd, nq, q_doc.data.as_ints)
        cdef int* o = order.data.as_ints
        sort_runs(o, q_doc.data.as_ints, nq, self.pd_issued.data.as_ints, self.pd_id.data.as_longlongs)
        cdef carray.array d_kind = zeros(I8, nd), d_issued = zeros(I16, nd)
        cdef carray.array d_until = zeros(I16, nd), d_void = zeros(I16, nd)
        cdef const short* q_insurer = (<carray.array>self.result["q_insurer"]).data.as_shorts
        cdef const int* cutoff = self.cutoff.data.as_ints
        cdef const signed char* kinds = self.pd_kind.data.as_schars
        cdef const int* issued = self.pd_issued.data.as_ints
        cdef const int* untils = self.pd_until.data.as_ints
        cdef const int* voids = self.pd_void.data.as_ints
        cdef const int* of_qual = self.pd_qual.data.as_ints
        cdef signed char* out_kind = d_kind.data.as_schars
        cdef short* out_issued = d_issued.data.as_shorts
        cdef short* out_until = d_until.data.as_shorts
        cdef short* out_void = d_void.data.as_shorts
        cdef long long until
        cdef int kind
        with nogil:
            for k in range(nd):
                r = o[k]
                kind = kinds[r]
                out_kind[k] = <signed char>kind
                out_issued[k] = event_day(issued[r])
                until = untils[r]
                if kind == LEGACY_CARD:  # the insurer's cut-off also ends a legacy card
                    until = min(until, cutoff[q_insurer[of_qual[r]]])
                out_until[k] = event_day(until)
                out_void[k] = event_day(voids[r])
        self.pd_id = self.pd_qual = self.pd_kind = self.pd_issued = self.pd_until = self.pd_void = None
        self.result.update(q_doc=q_doc, d_kind=d_kind, d_issued=d_issued, d_until=d_until, d_void=d_void)
        return 0

    # ------------------------------------------------------------- certificates

    cdef int _certificate(self, const unsigned char** fp, const int* fl) except -1:
        cdef const unsigned char* s = fp[0]
        cdef int n = fl[0]
        cdef unsigned char out[17]
        if n <= 0 or n > 32:
            raise ValueError("a certificate serial of impossible length")
        push(self.pc_person, self._person_index(fp[1], fl[1]))
        push(self.pc_serial, strings_append(&self.arena, out, pack_serial(s, n, out)))  # serials are unique
        carray.resize_smart(self.pc_hash, len(self.pc_hash) + 1)
        self.pc_hash.data.as_ulonglongs[len(self.pc_hash) - 1] = fnv1a(FNV_BASIS, s, n)
        push(self.pc_issued, event_day(self._day(fp[2], fl[2], 0)))
        push(self.pc_expires, event_day(self._day(fp[3], fl[3], 0)))
        push(self.pc_revoked, event_day(self._day(fp[4], fl[4], NO_END)))
        push(self.pc_face, 1 if fp[5] != NULL and fp[5][0] else 0)
        return 0

    cdef int _end_certificates(self) except -1:
        cdef Py_ssize_t nc = len(self.pc_person), npers = len(self.p_id64), k, r
        cdef int* starts = <int*>malloc((npers + 1) * sizeof(int))
        if starts == NULL:
            raise MemoryError()
        try:
            order = bucket_order(self.pc_person.data.as_ints, nc, npers, starts)
        finally:
            free(starts)
        cdef int* o = (<carray.array>order).data.as_ints
        cdef carray.array c_person = zeros(I32, nc), c_serial = zeros(I32, nc)
        cdef carray.array c_issued = zeros(I16, nc), c_expires = zeros(I16, nc)
        cdef carray.array c_revoked = zeros(I16, nc), c_face_only = zeros(I8, nc)
        cdef carray.array hashes = zeros(U64, nc), positions = zeros(I32, nc)
        cdef int* pos = positions.data.as_ints
        cdef int* out_person = c_person.data.as_ints
        cdef int* out_serial = c_serial.data.as_ints
        cdef short* out_issued = c_issued.data.as_shorts
        cdef short* out_expires = c_expires.data.as_shorts
        cdef short* out_revoked = c_revoked.data.as_shorts
        cdef signed char* out_face = c_face_only.data.as_schars
        cdef unsigned long long* out_hash = hashes.data.as_ulonglongs
        cdef const int* person = self.pc_person.data.as_ints
        cdef const int* serial = self.pc_serial.data.as_ints
        cdef const short* issued = self.pc_issued.data.as_shorts
        cdef const short* expires = self.pc_expires.data.as_shorts
        cdef const short* revoked = self.pc_revoked.data.as_shorts
        cdef const signed char* face = self.pc_face.data.as_schars
        cdef const unsigned long long* hash_of = self.pc_hash.data.as_ulonglongs
        with nogil:
            for k in range(nc):
                r = o[k]
                pos[k] = <int>k
                out_person[k] = person[r]
                out_serial[k] = serial[r]
                out_issued[k] = issued[r]
                out_expires[k] = expires[r]
                out_revoked[k] = revoked[r]
                out_face[k] = face[r]
                out_hash[k] = hash_of[r]
        cert_slots, cert_slot_tag = slot_table(positions.data.as_ints, hashes.data.as_ulonglongs, nc)
        self.pc_person = self.pc_serial = self.pc_hash = None
        self.pc_issued = self.pc_expires = self.pc_revoked = self.pc_face = None
        self.result.update(
            c_person=c_person, c_serial=c_serial, c_issued=c_issued, c_expires=c_expires,
            c_revoked=c_revoked, c_face_only=c_face_only, cert_slots=cert_slots, cert_slot_tag=cert_slot_tag,
        )
        return 0

    # ------------------------------------------------------------ registrations

    cdef int _registration(self, const unsigned char** fp, const int* fl) except -1:
        cdef int i = self._person_index(fp[0], fl[0])
        self.p_reg_from.data.as_shorts[i] = event_day(self._day(fp[1], fl[1], 0))
        if fp[2] == NULL:
            self.p_reg_last.data.as_shorts[i] = EVENT_MAX
            return 0
        requested = self._day(fp[2], fl[2], 0)
        last = self.reg_last_cache.get(requested)
        if last is None:  # few distinct request days: compute each once
            last = self.reg_last_cache[requested] = registration_last_day(requested)
        self.p_reg_last.data.as_shorts[i] = event_day(last)
        return 0

    # ------------------------------------------------------------------- result

    def finish(self):
        """The snapshot of everything fed (tables not fed are empty); once per builder."""
        if self.result is None:
            raise RuntimeError("finish() was called already: this builder's columns are in its snapshot")
        while self.stage < len(STAGES):
            self._end_stage()
        cdef Py_ssize_t n = len(self.p_id64), i
        cdef long long pid
        p_id = zeros(U32, n)
        p_id_big = {}
        for i in range(n):
            pid = self.p_id64.data.as_longlongs[i]
            if pid < BIG_ID:
                (<carray.array>p_id).data.as_uints[i] = <unsigned int>pid
            else:
                (<carray.array>p_id).data.as_uints[i] = BIG_ID
                p_id_big[i] = pid
        arena = (<const char*>self.arena.buf)[:self.arena.used]
        counts = (n, len(self.result["q_id"]), len(self.result["d_kind"]), len(self.result["c_person"]))
        fingerprint = hashlib.sha256(arena)
        fingerprint.update(repr(counts).encode())
        columns = dict(
            self.result,  # the qualification, document, certificate and index columns
            version=fingerprint.hexdigest()[:16],
            arena=arena,
            insurer_numbers=[ins.insurer_number for ins in self.insurers],
            insurer_names=[ins.name for ins in self.insurers],
            insurer_late=array(
                "b",
                (
                    len(ins.insurer_number) == 8 and ins.insurer_number[:2] == LATE_ELDERLY_LAW_CODE
                    for ins in self.insurers
                ),
            ),
            insurer_index={ins.insurer_number: i for i, ins in enumerate(self.insurers)},
            p_id=p_id,
            p_id_big=p_id_big,
            p_birth=self.p_birth,
            p_sex=self.p_sex,
            p_name=self.p_name,
            p_kana=self.p_kana,
            p_reg_from=self.p_reg_from,
            p_reg_last=self.p_reg_last,
        )
        # Let go of the columns before they are packed into rows, so each table's columns
        # are freed as soon as its rows are written (with_rows).  At 10 M members this
        # did not move the build's peak (2.93 GB either way; write_snapshot's copy of
        # every array was that peak), but it keeps a second copy from outliving packing.
        self.result = None
        p_id = None
        self.p_name = self.p_kana = self.p_birth = self.p_reg_from = self.p_reg_last = None
        return SnapshotData(**with_rows(columns))
