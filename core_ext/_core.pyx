# cython: language_level=3
"""The compiled core: the same API and answers as `_pycore`, at C speed.

Well-formed ASCII requests (nearly all of them) are parsed by `_parse_fast`
without building Python objects; anything else goes through the shared
`_request.parse_item`, so both cores agree on every error and normalisation.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport int32_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

import orjson

from ._answers import INSTITUTION_MISMATCH, MALFORMED_JSON, MAX_BATCH_ITEMS, TOO_MANY_ITEMS, json_fields
from ._codes import OUTCOMES, copay_percent
from ._logline import PRESENTED_NAMES as _PRESENTED_NAMES
from ._request import check_batch, check_institution_code, json_object, parse_item, validation_error
from ._request import FIRST_DAY as _FIRST_DAY, DAYS_AHEAD as _DAYS_AHEAD
from ._build import EVENT_BASE as _EVENT_BASE
from ._text import normalise_number, normalise_symbol

cdef extern from *:
    void prefetch "__builtin_prefetch"(const void* address) noexcept nogil

from ._days cimport days_from_civil, parse_day_ascii
from ._arena cimport LONG_TEXT, pack_serial, text_at
from ._hashing cimport FNV_BASIS, fnv1a, home_slot, key_hash_c

# Mirrors of constants whose home is core_ext._codes, _text or _build (C needs them at
# compile time); _check_mirrors compares every one at import and refuses a drifted build.
cdef enum Presented:
    MYNA_CARD = 0
    LEGACY_CARD = 1
    ELIGIBILITY_CERTIFICATE = 2
    INFO_NOTICE = 3
    UNSPECIFIED = 4

cdef enum AuthMethod:
    AUTH_FACE = 0
    AUTH_PIN = 1
    AUTH_VISUAL = 2

cdef enum Code:
    VALID = 0
    VALID_MULTIPLE = 1
    NOT_FOUND = 2
    AMBIGUOUS = 3
    NOT_YET_EFFECTIVE = 4
    LOST = 5
    SUPERSEDED = 6
    NO_VALID_QUALIFICATION = 7
    DOCUMENT_NOT_ISSUED = 8
    DOCUMENT_EXPIRED = 9
    INFO_NOTICE_ALONE = 10
    PROXY_NOT_ALLOWED = 11
    CERTIFICATE_UNKNOWN = 12
    CERTIFICATE_INVALID = 13
    FACE_AUTH_REQUIRED = 14
    NOT_REGISTERED = 15

cdef enum Warning:  # Decision.warnings bits
    W_GRACE = 1
    W_SOON = 2

cdef enum:
    INCOME_COUNT = 3  # len(INCOME_CLASSES)
    EXPIRES_SOON_DAYS = 30
    NO_END = 10000000
    EVENT_MAX = 32767
    BIG_ID = 0xFFFFFFFF
    NO_DOCUMENT = -40000  # below every event day: no valid document seen
    CODE_FORMS_MAX = 65536  # distinct non-ASCII symbols or numbers memoised per core
    CODE_FORM_BYTES = 160  # and only those this short: twice 20 characters of 4 UTF-8 bytes
    OUT_START = 4096  # the reused single-answer buffer (a typical answer is about 1 KiB)
    OUT_KEEP = 65536
    MISS_PERSONS = 32  # core_ext._logline.MISS_PERSONS


def _check_mirrors():
    """Refuse to load when a constant above differs from its home (a stale or edited build)."""
    from . import _build, _codes, _logline, _text

    homes = {
        _codes: {
            "MYNA_CARD": MYNA_CARD, "LEGACY_CARD": LEGACY_CARD,
            "ELIGIBILITY_CERTIFICATE": ELIGIBILITY_CERTIFICATE, "INFO_NOTICE": INFO_NOTICE,
            "UNSPECIFIED": UNSPECIFIED, "AUTH_FACE": AUTH_FACE, "AUTH_PIN": AUTH_PIN,
            "AUTH_VISUAL": AUTH_VISUAL,
            "EXPIRES_SOON_DAYS": EXPIRES_SOON_DAYS,
            "VALID": VALID, "VALID_MULTIPLE": VALID_MULTIPLE, "NOT_FOUND": NOT_FOUND,
            "AMBIGUOUS": AMBIGUOUS, "NOT_YET_EFFECTIVE": NOT_YET_EFFECTIVE, "LOST": LOST,
            "SUPERSEDED": SUPERSEDED, "NO_VALID_QUALIFICATION": NO_VALID_QUALIFICATION,
            "DOCUMENT_NOT_ISSUED": DOCUMENT_NOT_ISSUED, "DOCUMENT_EXPIRED": DOCUMENT_EXPIRED,
            "INFO_NOTICE_ALONE": INFO_NOTICE_ALONE, "PROXY_NOT_ALLOWED": PROXY_NOT_ALLOWED,
            "CERTIFICATE_UNKNOWN": CERTIFICATE_UNKNOWN, "CERTIFICATE_INVALID": CERTIFICATE_INVALID,
            "FACE_AUTH_REQUIRED": FACE_AUTH_REQUIRED, "NOT_REGISTERED": NOT_REGISTERED,
        },
        _text: {"NO_END": NO_END, "FNV_BASIS": FNV_BASIS},
        _build: {"BIG_ID": <unsigned int>BIG_ID, "EVENT_MAX": EVENT_MAX, "LONG_TEXT": LONG_TEXT},
        _logline: {"MISS_PERSONS": MISS_PERSONS},
    }
    drifted = [
        f"{module.__name__}.{name} = {getattr(module, name, None)!r}, compiled {value!r}"
        for module, mirrors in homes.items()
        for name, value in mirrors.items()
        if getattr(module, name, None) != value
    ]
    if sorted(_codes.INCOME_CLASSES.values()) != list(range(INCOME_COUNT)):  # COPAY's last index
        drifted.append(f"income classes {_codes.INCOME_CLASSES}, {INCOME_COUNT} compiled")
    if sizeof((<Raw*>NULL).kind) != NFIELDS:
        drifted.append(f"Raw holds {sizeof((<Raw*>NULL).kind)} fields, NFIELDS is {NFIELDS}")
    if len(_codes.OUTCOMES) != CODE_COUNT or CODE_COUNT != NOT_REGISTERED + 1:
        drifted.append(f"{len(_codes.OUTCOMES)} outcomes in core_ext._codes, {CODE_COUNT} compiled")
    if drifted:
        # Not ImportError: that would be taken for "not built" and the twin served quietly.
        raise RuntimeError("core_ext._core was built with other constants; rebuild it (make install): "
                           + "; ".join(drifted))


_check_mirrors()

# Batch items are warmed this many items ahead of their decision (Core._warm's stages).
cdef enum:
    WARM_STAGES = 5
    WARM_RING = 8  # a power of two above WARM_STAGES

cdef int FIRST_DAY = _FIRST_DAY
cdef int EVENT_BASE = _EVENT_BASE
cdef int DAYS_AHEAD = _DAYS_AHEAD
cdef tuple CODE_DISCLOSES = tuple(o.discloses for o in OUTCOMES)
# ',"eligible":…,"code":…,"validity":…,"message":…' for each code, encoded once.
cdef tuple CODE_JSON = tuple(
    json_fields({"eligible": o.eligible, "code": o.name, "validity": o.validity, "message": o.message})
    for o in OUTCOMES)
# The fixed fields of an access-log line (core_ext._logline.access_line), with their commas.
cdef tuple LOG_PRESENTED = tuple(f"{_PRESENTED_NAMES[k]},".encode() for k in range(len(_PRESENTED_NAMES)))
cdef tuple LOG_CODE = tuple(f"{o.name},".encode() for o in OUTCOMES)

# The core by concern; each file's functions take the Core they work for as `self`.
include "_dates.pxi"
include "_json_out.pxi"
include "_field_names.pxi"
include "_json_scan.pxi"
include "_requests.pxi"
include "_lookup.pxi"
include "_decide.pxi"
include "_answers_out.pxi"


# ------------------------------------------------------------------ hashing

def key_hash(int insurer_index, bytes symbol, bytes number):
    """Hash of a normalised key without its branch (the compiled twin of _text.key_hash)."""
    return key_hash_c(insurer_index, symbol, len(symbol), number, len(number))


# --------------------------------------------------------------------- core

cdef class Core:
    """Decisions over one immutable snapshot."""

    def __init__(self, data, Core overlay=None, dirty_keys=None, dirty_serials=None):
        """`overlay` answers for the keys (insurer index, symbol, number as UTF-8) and the
        certificate serials (ASCII) in `dirty_keys` / `dirty_serials`: the persons
        changed since `data` was built, with every row their answers depend on."""
        self.data = data
        self.overlay = overlay
        self._symbol_forms = {}
        self._number_forms = {}
        if self._out.p == NULL:
            buf_init(&self._out, OUT_START)
        self.dirty_keys = set(dirty_keys or ())
        self.dirty_serials = set(dirty_serials or ())
        # bytes, or a memoryview of a mapped snapshot file; the view keeps it alive.
        cdef const unsigned char[::1] arena = data.arena
        self._arena_ref = arena
        self.arena = &arena[0] if arena.shape[0] else <const unsigned char*>b""
        self.insurer_index = data.insurer_index
        self._index_insurers()
        self.insurer_json = [
            json_fields({"insurer_number": number, "insurer_name": name})
            for number, name in zip(data.insurer_numbers, data.insurer_names)]
        self.limit_json = [orjson.dumps(name) for name in data.limit_names]
        self.insurer_late = data.insurer_late
        cdef const unsigned char[::1] q_rows = data.q_rows
        cdef const unsigned char[::1] p_rows = data.p_rows
        cdef const unsigned char[::1] c_rows = data.c_rows
        self._rows_ref = (q_rows, p_rows, c_rows)
        self.qrows = <const QRow*>&q_rows[0] if q_rows.shape[0] else NULL
        self.prows = <const PRow*>&p_rows[0]  # never empty: the last row ends p_qual
        self.crows = <const CRow*>&c_rows[0] if c_rows.shape[0] else NULL
        self.p_id_big = data.p_id_big
        self.q_id_big = data.q_id_big
        self.q_doc = data.q_doc
        self.d_kind = data.d_kind
        self.d_issued = data.d_issued
        self.d_until = data.d_until
        self.d_void = data.d_void
        self.key_next = data.key_next
        self.key_slots = data.key_slots
        self.key_slot_tag = data.key_slot_tag
        self.cert_slots = data.cert_slots
        self.cert_slot_tag = data.cert_slot_tag
        for i in range(CODE_COUNT):
            self.counts[i] = 0

    def __dealloc__(self):
        free(self._out.p)
        free(self.insurer_keys)
        free(self.insurer_values)

    cdef int _index_insurers(self) except -1:
        cdef uint32_t size = 16, slot
        while size < 2 * len(self.insurer_index):
            size *= 2
        free(self.insurer_keys)
        free(self.insurer_values)
        self.insurer_keys = <int32_t*>malloc(size * sizeof(int32_t))
        self.insurer_values = <int32_t*>malloc(size * sizeof(int32_t))
        if self.insurer_keys == NULL or self.insurer_values == NULL:
            raise MemoryError()
        memset(self.insurer_keys, 0xFF, size * sizeof(int32_t))
        self.insurer_mask = size - 1
        cdef int32_t value
        for number, index in self.insurer_index.items():
            value = int(number)
            slot = <uint32_t>(value * <uint32_t>2654435761) & self.insurer_mask
            while self.insurer_keys[slot] >= 0:
                slot = (slot + 1) & self.insurer_mask
            self.insurer_keys[slot] = value
            self.insurer_values[slot] = index
        return 0

    @property
    def code_counts(self):
        """Decisions made so far, by code number."""
        return [self.counts[i] for i in range(CODE_COUNT)]

    def carry_counts(self, Core previous):
        """Continue the decision counts of the core this one replaces (metrics are counters)."""
        for i in range(CODE_COUNT):
            self.counts[i] += previous.counts[i]

    # ------------------------------------------------------- entry points

    def confirm(self, bytes body, str institution, int today, str request_id, str checked_at,
                bytes snapshot, bint stale=False, bytearray log=None):
        """Answer POST /v1/confirmations from the raw body: (HTTP status, answer JSON)."""
        cdef LogHead head
        cdef Req r
        cdef Buf* b
        cdef Raw raw
        cdef Py_ssize_t n
        cdef const char* mine
        if (
            scan_request(PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body), &raw)
            and institution_ok(&raw)
            and check_raw(self, &raw, today, today, &r)  # r's strings point into body
        ):
            if not same_institution(institution, raw.s[F_INSTITUTION]):
                return 403, INSTITUTION_MISMATCH
        else:
            req = json_object(body)
            if req is None:
                return 400, MALFORMED_JSON
            errors = []
            code = (<dict>req).get("institution_code")
            check_institution_code(code, errors)
            if errors:  # still collect every other field's error for the 422
                parse_item(req, today, today, errors)
                return 422, orjson.dumps(validation_error(errors))
            keep = parse_request(self, req, today, today, &r, errors)  # owns r's strings
            if keep is None:
                return 422, orjson.dumps(validation_error(errors))
            if code != institution:
                return 403, INSTITUTION_MISMATCH
        b = &self._out  # reused: no malloc and free per answer
        b.n = 0
        b.failed = False
        try:
            put(b, b'{"request_id":', 14)
            mine = PyUnicode_AsUTF8AndSize(request_id, &n)
            put_json_string(b, mine, n)
            put(b, b",", 1)
            if log is not None:
                log_head(&head, checked_at, institution, request_id)
            put_result(self, b, &r, checked_at_json(self, checked_at), stale, log, &head)
            put(b, b',"snapshot":', 12)
            put_bytes(b, snapshot)
            put(b, b"}", 1)
            buf_done(b)
            return 200, PyBytes_FromStringAndSize(b.p, b.n)
        finally:
            if b.cap > OUT_KEEP:  # an unusually long answer: give the memory back
                buf_reset(b, OUT_START)

    def confirm_batch(self, bytes body, str institution, int today, str request_id,
                      str checked_at, bytes snapshot, bint stale=False, bytearray log=None):
        """Answer POST /v1/confirmations/batch from the raw body: (HTTP status, answer JSON).

        The items become one array of Req, read in place from a plain body or, for anything
        else, from orjson's decoding through the shared validator (which words every error);
        then one loop warms and answers them."""
        cdef Raw top
        cdef Raw* raws = NULL
        cdef Req* reqs = NULL
        cdef Py_ssize_t count, k
        cdef int day
        cdef list failures = None  # per item: its 422 body, or None when it is decided
        cdef list owners = None    # per item: what keeps its Req's strings alive
        count = scan_batch(PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body), &top, &raws)
        try:
            day = batch_day(&top, today) if count >= 0 and institution_ok(&top) else -1
            if day >= 0:
                reqs = new_requests(count)
                for k in range(count):
                    if not check_raw(self, raws + k, today, day, reqs + k):  # strings point into body
                        day = -1
                        break
            if day >= 0:
                if not same_institution(institution, top.s[F_INSTITUTION]):
                    return 403, INSTITUTION_MISMATCH
            else:
                free(reqs)
                reqs = NULL
                req = json_object(body)
                if req is None:
                    return 400, MALFORMED_JSON
                items = (<dict>req).get("items")
                if type(items) is list and len(<list>items) > MAX_BATCH_ITEMS:
                    return 413, TOO_MANY_ITEMS
                errors = []
                day = check_batch(req, today, errors)
                if errors:
                    return 422, orjson.dumps(validation_error(errors))
                if req["institution_code"] != institution:
                    return 403, INSTITUTION_MISMATCH
                count = len(<list>items)
                reqs = new_requests(count)
                failures = [None] * count
                owners = [None] * count
                for k in range(count):
                    errors = []
                    owners[k] = parse_request(self, (<list>items)[k], today, day, reqs + k, errors)
                    if owners[k] is None:
                        failures[k] = orjson.dumps(validation_error(errors))
                        reqs[k].presented = UNSPECIFIED  # nothing to look up or warm
                        reqs[k].insurer = -1
            return 200, self._answer_batch(reqs, count, failures, request_id, checked_at,
                                           snapshot, stale, log, institution)
        finally:
            free(raws)
            free(reqs)

    cdef bytes _answer_batch(self, const Req* reqs, Py_ssize_t count, list failures, str request_id,
                             str checked_at, bytes snapshot, bint stale, bytearray log, str institution):
        """The batch answer: each item decided (or its 422 body from `failures`) in order, while
        the items WARM_STAGES ahead are fetched into the cache (warm_item)."""
        cdef LogHead head
        cdef Buf b
        cdef Warm warm[WARM_RING]
        cdef Py_ssize_t k, ahead
        cdef int stage
        cdef bytes checked = checked_at_json(self, checked_at)
        if log is not None:
            log_head(&head, checked_at, institution, request_id)
        buf_init(&b, 256 + 1024 * count)
        try:
            put_batch_head(self, &b, request_id, checked_at)
            for k in range(-WARM_STAGES, count):
                # Item k + s is at stage WARM_STAGES - s: the furthest just starts.
                # WARM_STAGES items are in flight, each in its own slot of the ring.
                for stage in range(WARM_STAGES):
                    ahead = k + WARM_STAGES - stage
                    if 0 <= ahead < count:
                        warm_item(self, reqs + ahead, &warm[ahead & (WARM_RING - 1)], stage)
                if k < 0:
                    continue
                if k:
                    put(&b, b",", 1)
                if failures is not None and failures[k] is not None:
                    put_bytes(&b, <bytes>failures[k])
                    continue
                put(&b, b"{", 1)
                put_result(self, &b, reqs + k, checked, stale, log, &head)
                put(&b, b"}", 1)
            put(&b, b'],"snapshot":', 13)
            put_bytes(&b, snapshot)
            put(&b, b"}", 1)
            buf_done(&b)
            return PyBytes_FromStringAndSize(b.p, b.n)
        finally:
            free(b.p)
