from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint16_t, uint32_t, uint64_t


cdef struct Req:
    int presented
    int day
    bint proxy
    bint limit_consent
    # card path
    char serial[33]
    Py_ssize_t serial_len
    int auth_method
    # number path
    bint identity_verified
    int insurer            # insurer index in the snapshot, -1 = unknown insurer
    const char* symbol     # UTF-8, kept alive by the request dict or the Parsed tuple
    Py_ssize_t symbol_len
    const char* number
    Py_ssize_t number_len
    int branch             # -1 = omitted
    int birthdate


# The fields of a confirmation request the fast paths read (F_CONSENT: consent.limit_info).
cdef enum:
    F_INSTITUTION = 0
    F_PRESENTED
    F_DATE
    F_PROXY
    F_CONSENT
    F_SERIAL
    F_AUTH
    F_IDENTITY
    F_INSURER
    F_SYMBOL
    F_NUMBER
    F_BRANCH
    F_BIRTH
    NFIELDS


# The number of decision codes: len(core_ext._codes.OUTCOMES), compared at import.
cdef enum:
    CODE_COUNT = 16


cdef enum:
    K_ABSENT = 0
    K_STRING
    K_TRUE
    K_FALSE


cdef struct Raw:
    # Each field's JSON value: its kind and, for a string, its bytes (owned by the caller).
    const char* s[13]
    Py_ssize_t n[13]
    char kind[13]


cdef struct Buf:
    char* p                # malloc'd answer being written
    Py_ssize_t n
    Py_ssize_t cap
    bint failed            # a realloc failed: the answer is incomplete (checked once, at the end)


cdef struct LogHead:
    # The request's part of its access-log lines (UTF-8 views of the caller's str objects).
    const char* at
    Py_ssize_t at_n
    const char* institution
    Py_ssize_t institution_n
    const char* request_id
    Py_ssize_t request_id_n


cdef struct Warm:
    # How far a batch item's lookup has been fetched ahead (Core._warm): each stage reads
    # only what the previous stage's prefetches brought into the cache.
    Py_ssize_t slot        # the home slot of its key or serial, -1 = nothing to follow
    int row                # the certificate (card path), -1 = none
    int qual
    int person


# The rows of core_ext._rows (QUAL_ROWS, PERSON_ROWS, CERT_ROWS): the same sizes and
# offsets, which core_ext._core.row_offsets reports for a test to compare.
cdef struct QRow:
    int32_t person
    int32_t symbol         # arena offsets
    int32_t number
    int32_t acquired
    int32_t lost
    uint32_t id            # BIG_ID: in q_id_big
    int16_t insurer
    int8_t branch
    int8_t relationship
    int8_t income
    int8_t limit
    int8_t sex             # the person's (the answer's person block is written from the row)
    int8_t unused


cdef struct PRow:
    int32_t qual           # the person's rows are qual .. (the next person's qual) - 1
    int32_t birth
    int32_t name
    int32_t kana
    uint32_t id
    int16_t reg_from
    int16_t reg_last


cdef struct CRow:
    int32_t person
    int32_t serial
    int16_t issued
    int16_t expires
    int16_t revoked
    int8_t face_only
    int8_t unused


cdef struct Decision:
    int code
    int qual               # -1 = nothing to disclose
    int person             # the person looked up (for the access log), -1 = none
    int warnings           # W_* bits


cdef class Core:
    cdef readonly object data
    cdef readonly Core overlay
    cdef set dirty_keys
    cdef set dirty_serials
    cdef object _arena_ref
    cdef const unsigned char* arena
    cdef dict insurer_index
    # insurer_index by the insurer number's value (6-digit numbers are below 1,000,000 and
    # 8-digit ones from it, so the value is unique): open addressing, -1 = empty.
    cdef int32_t* insurer_keys
    cdef int32_t* insurer_values
    cdef uint32_t insurer_mask
    cdef list insurer_json     # per insurer: b',"insurer_number":…,"insurer_name":…'
    cdef list limit_json       # per limit category: its name as a JSON string
    cdef const int8_t[::1] insurer_late
    cdef dict p_id_big
    cdef dict q_id_big
    cdef const int32_t[::1] q_doc
    cdef const int8_t[::1] d_kind
    cdef const int16_t[::1] d_issued
    cdef const int16_t[::1] d_until
    cdef const int16_t[::1] d_void
    cdef const int32_t[::1] key_next
    cdef const int32_t[::1] key_slots
    cdef const uint16_t[::1] key_slot_tag
    cdef const int32_t[::1] cert_slots
    cdef const uint16_t[::1] cert_slot_tag
    cdef object _rows_ref      # the row buffers the pointers below point into
    cdef const QRow* qrows
    cdef const PRow* prows
    cdef const CRow* crows
    cdef long long counts[CODE_COUNT]
    cdef str _last_checked_at
    cdef bytes _last_checked_at_json
    cdef dict _symbol_forms
    cdef Buf _out          # the single-answer buffer, reused across calls
    cdef dict _number_forms

    cdef void _warm(self, const Req* r, Warm* w, int stage) noexcept nogil
    cdef void _fetch_person(self, int p) noexcept nogil
    cdef void _fetch_qualification(self, int q) noexcept nogil
    cdef void _fetch_codes(self, int q) noexcept nogil
    cdef void _fetch_names(self, int p) noexcept nogil
    cdef bint _parse_fast(self, dict req, int today, int default_day, Req* r)
    cdef int _index_insurers(self) except -1
    cdef int _insurer_of(self, int32_t number) noexcept nogil
    cdef bint _check_raw(self, const Raw* raw, int today, int default_day, Req* r)
    cdef bint _code_form(self, const char** s, Py_ssize_t* n, bint symbol) except -1
    cdef object _parse(self, object req, int today, int default_day, Req* r, list errors)
    cdef int _find_key(self, const Req* r)
    cdef int _find_certificate(self, const Req* r)
    cdef bint _in_force(self, int q, int day)
    cdef bint _registered(self, int p, int day)
    cdef Decision _card_path(self, const Req* r)
    cdef Decision _number_path(self, const Req* r)
    cdef int _put_text(self, Buf* b, int32_t offset) except -1
    cdef int _put_person(self, Buf* b, int q) except -1
    cdef int _put_qualification(self, Buf* b, int q, int day, bint limit_consent) except -1
    cdef Core _route(self, const Req* r)
    cdef bytes _checked_at_json(self, str checked_at)
    cdef int _put_batch_head(self, Buf* b, str request_id, str checked_at) except -1
    cdef int _log_line(
        self, bytearray log, const LogHead* head, int presented, int code, int p, int q
    ) except -1
    cdef int _put_result(self, Buf* b, const Req* r, bytes checked_at, bint stale,
                         bytearray log, const LogHead* head) except -1
