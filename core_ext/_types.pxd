# The compiled core's C types: requests, raw JSON fields, buffers, snapshot rows, decisions.
# Shared by core_ext._core (through _core.pxd) and the test-only core_ext._probe.
from libc.stdint cimport int8_t, int16_t, int32_t, uint32_t


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


cdef enum:  # a raw field's JSON kind
    K_ABSENT = 0
    K_STRING
    K_TRUE
    K_FALSE


cdef struct Raw:
    # Each field's JSON value: its kind and, for a string, its bytes (owned by the caller);
    # 13 = NFIELDS (_core checks they agree at import).
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
