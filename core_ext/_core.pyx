# cython: language_level=3
"""The compiled core: the same API and answers as `_pycore`, at C speed.

Well-formed ASCII requests (nearly all of them) are parsed by `_parse_fast`
without building Python objects; anything else goes through the shared
`_request.parse_item`, so both cores agree on every error and normalisation.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeASCII
from libc.stdint cimport int32_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

import orjson

from ._answers import INSTITUTION_MISMATCH, MALFORMED_JSON, MAX_BATCH_ITEMS, TOO_MANY_ITEMS, json_fields
from ._codes import OUTCOMES
from ._logline import PRESENTED_NAMES as _PRESENTED_NAMES
from ._request import check_batch, check_institution_code, json_object, parse_item, validation_error
from ._request import FIRST_DAY as _FIRST_DAY, DAYS_AHEAD as _DAYS_AHEAD
from ._build import EVENT_BASE as _EVENT_BASE
from ._text import normalise_number, normalise_symbol

cdef extern from *:
    void prefetch "__builtin_prefetch"(const void* address) noexcept nogil

from ._days cimport days_from_civil, parse_day_ascii
from ._hashing cimport FNV_BASIS, fnv1a, home_slot, key_hash_c

# Mirrors of constants whose home is core_ext._codes, _text or _build (C needs them at
# compile time); _check_mirrors compares every one at import and refuses a drifted build.
cdef enum:
    MYNA_CARD = 0
    LEGACY_CARD = 1
    ELIGIBILITY_CERTIFICATE = 2
    INFO_NOTICE = 3
    UNSPECIFIED = 4
    AUTH_PIN = 1
    INCOME_HIGH = 2
    EXPIRES_SOON_DAYS = 30

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

    W_GRACE = 1
    W_SOON = 2

    NO_END = 10000000
    EVENT_MAX = 32767
    BIG_ID = 0xFFFFFFFF
    NO_DOCUMENT = -40000  # below every event day: no valid document seen
    CODE_FORMS_MAX = 65536  # distinct non-ASCII symbols or numbers memoised per core
    OUT_START = 4096  # the reused single-answer buffer (a typical answer is about 1 KiB)
    OUT_KEEP = 65536


def _check_mirrors():
    """Refuse to load when a constant above differs from its home (a stale or edited build)."""
    from . import _build, _codes, _text

    homes = {
        _codes: {
            "MYNA_CARD": MYNA_CARD, "LEGACY_CARD": LEGACY_CARD,
            "ELIGIBILITY_CERTIFICATE": ELIGIBILITY_CERTIFICATE, "INFO_NOTICE": INFO_NOTICE,
            "UNSPECIFIED": UNSPECIFIED, "AUTH_PIN": AUTH_PIN, "INCOME_HIGH": INCOME_HIGH,
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
        _build: {"BIG_ID": <unsigned int>BIG_ID, "EVENT_MAX": EVENT_MAX},
    }
    drifted = [
        f"{module.__name__}.{name} = {getattr(module, name, None)!r}, compiled {value!r}"
        for module, mirrors in homes.items()
        for name, value in mirrors.items()
        if getattr(module, name, None) != value
    ]
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
cdef const char* HEX = b"0123456789abcdef"
# The fixed fields of an access-log line (core_ext._logline.access_line), with their commas.
cdef tuple LOG_PRESENTED = tuple(f"{_PRESENTED_NAMES[k]},".encode() for k in range(len(_PRESENTED_NAMES)))
cdef tuple LOG_CODE = tuple(f"{o.name},".encode() for o in OUTCOMES)


# ------------------------------------------------------------------- dates

cdef inline void civil(int day, int* y, int* m, int* d) noexcept nogil:
    """Year, month and day of a day number (date.toordinal()), for years 1 to about 10,000.

    Neri and Schneider's Euclidean affine functions (Software: Practice and Experience,
    2023): multiplications and shifts instead of the divisions of the textbook
    algorithm; tests/core_ext/test_days.py compares every day of 1800-2300 with Python."""
    # days since 0000-03-01 (a computational year starts in March)
    cdef uint32_t n = <uint32_t>(day - 1 + 306)
    cdef uint32_t n1 = 4 * n + 3
    cdef uint32_t century = n1 // 146097
    cdef uint32_t n2 = (n1 % 146097) | 3
    cdef uint64_t p2 = <uint64_t>2939745 * n2
    cdef uint32_t z = <uint32_t>(p2 >> 32)
    cdef uint32_t n_y = <uint32_t>p2 // 2939745 // 4  # the low 32 bits
    cdef uint32_t n3 = 2141 * n_y + 197913
    cdef uint32_t j = n_y >= 306
    y[0] = <int>(100 * century + z + j)
    m[0] = <int>((n3 >> 16) - 12 * j)
    d[0] = <int>((n3 & 0xFFFF) // 2141 + 1)


# "00" to "99": two digits with one load.
cdef char DIGITS2[200]
for _c in range(100):
    DIGITS2[2 * _c] = 48 + _c // 10
    DIGITS2[2 * _c + 1] = 48 + _c % 10


cdef void write_day(int day, char* buf) noexcept nogil:
    """A day number as the 10 characters YYYY-MM-DD, for years 1 to 9999 (every date Onshi
    holds or is asked about was validated as YYYY-MM-DD; DIGITS2 has no entry past 99)."""
    cdef int y, m, d
    civil(day, &y, &m, &d)
    memcpy(buf, &DIGITS2[2 * (y // 100)], 2)
    memcpy(buf + 2, &DIGITS2[2 * (y % 100)], 2)
    buf[4] = b'-'
    memcpy(buf + 5, &DIGITS2[2 * m], 2)
    buf[7] = b'-'
    memcpy(buf + 8, &DIGITS2[2 * d], 2)


def day_text(int day):
    """write_day for tests: a day number as YYYY-MM-DD."""
    cdef char buf[10]
    write_day(day, buf)
    return PyUnicode_DecodeASCII(buf, 10, NULL)


def day_parts(int day):
    """civil for tests: (year, month, day) of a day number."""
    cdef int y, m, d
    civil(day, &y, &m, &d)
    return y, m, d


cdef inline int last_of_month(int y, int m) noexcept nogil:
    """The last day of month m of year y (m may run past 12)."""
    y += (m - 1) // 12
    m = (m - 1) % 12 + 1
    if m == 12:
        return days_from_civil(y + 1, 1, 1) - 1
    return days_from_civil(y, m + 1, 1) - 1


cdef inline void attain_month(int birth, int years, int* y, int* m) noexcept nogil:
    """Year and month of attaining age `years`: the day before the birthday (_text.attain_day)."""
    cdef int by, bm, bd
    civil(birth, &by, &bm, &bd)
    y[0] = by + years
    m[0] = bm
    if bd == 1:  # the day before is in the previous month (29 February stays in February)
        if bm == 1:
            y[0] -= 1
            m[0] = 12
        else:
            m[0] = bm - 1


cdef inline int preschool_last_day(int birth) noexcept nogil:
    """The first 31 March on or after attaining 6 (_text.preschool_last_day)."""
    cdef int y, m
    attain_month(birth, 6, &y, &m)
    return days_from_civil(y if m <= 3 else y + 1, 3, 31)


cdef inline int elderly_first_day(int birth) noexcept nogil:
    """The 1st of the month after attaining 70 (_text.elderly_first_day)."""
    cdef int y, m
    attain_month(birth, 70, &y, &m)
    return last_of_month(y, m) + 1


cdef inline int certificate_grace_end(int expires) noexcept nogil:
    """The end of the 3rd month after the month of expiry (_text.certificate_grace_end)."""
    cdef int y, m, d
    civil(expires, &y, &m, &d)
    return last_of_month(y, m + 3)


# ------------------------------------------------------------------ hashing

def key_hash(int insurer_index, bytes symbol, bytes number):
    """Hash of a normalised key without its branch (the compiled twin of _text.key_hash)."""
    return key_hash_c(insurer_index, symbol, len(symbol), number, len(number))


cdef inline bint check_digit_ok(const char* s, Py_ssize_t n) nogil:
    cdef int total = 0, weight = 2, product
    cdef Py_ssize_t i
    for i in range(n - 2, -1, -1):
        product = (s[i] - 48) * weight
        total += product // 10 + product % 10
        weight = 3 - weight
    return (10 - total % 10) % 10 == s[n - 1] - 48


cdef inline bint plain_ascii(const char* s, Py_ssize_t n) nogil:
    """Printable ASCII without spaces: NFKC, white-space removal and dash mapping leave it as is."""
    cdef Py_ssize_t i
    for i in range(n):
        if s[i] <= 32 or s[i] >= 127:
            return False
    return True


# ------------------------------------------------------------------ output

cdef int buf_init(Buf* b, Py_ssize_t cap) except -1:
    b.p = <char*>malloc(cap)
    if b.p == NULL:
        raise MemoryError()
    b.n = 0
    b.cap = cap
    b.failed = False
    return 0


cdef int buf_done(Buf* b) except -1:
    """Raise MemoryError if any write was dropped.  The put_* writers cannot raise: an
    error check after each of the ~60 writes of an answer cost more than the writes."""
    if b.failed:
        raise MemoryError()
    return 0


cdef bint grow(Buf* b, Py_ssize_t extra) noexcept nogil:
    cdef Py_ssize_t cap = b.cap * 2
    if cap < b.n + extra:
        cap = b.n + extra
    cdef char* p = <char*>realloc(b.p, cap)
    if p == NULL:
        b.failed = True
        return False
    b.p = p
    b.cap = cap
    return True


cdef inline void put(Buf* b, const char* s, Py_ssize_t n) noexcept nogil:
    if b.n + n > b.cap and not grow(b, n):
        return
    memcpy(b.p + b.n, s, n)
    b.n += n


cdef inline void put_bytes(Buf* b, bytes s) noexcept:
    put(b, PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s))


cdef inline void put_bool(Buf* b, bint v) noexcept nogil:
    if v:
        put(b, b"true", 4)
    else:
        put(b, b"false", 5)


cdef inline char* write_int(char* w, long long v) noexcept nogil:
    """v in decimal at w; the position after it."""
    cdef char tmp[24]
    cdef int i = 24
    cdef bint negative = v < 0
    cdef unsigned long long u = <unsigned long long>(-v) if negative else <unsigned long long>v
    while True:
        i -= 1
        tmp[i] = 48 + u % 10
        u //= 10
        if u == 0:
            break
    if negative:
        i -= 1
        tmp[i] = b'-'
    memcpy(w, tmp + i, 24 - i)
    return w + 24 - i


cdef void put_int(Buf* b, long long v) noexcept nogil:
    if 0 <= v < 10:  # sex, relationship: one digit
        put(b, &DIGITS2[2 * v + 1], 1)
        return
    if 10 <= v < 100:  # copay percent
        put(b, &DIGITS2[2 * v], 2)
        return
    cdef char tmp[24]
    put(b, tmp, write_int(tmp, v) - tmp)


cdef inline char* write_text(char* w, const char* s, Py_ssize_t n) noexcept nogil:
    memcpy(w, s, n)
    return w + n


cdef inline void put_digits2(Buf* b, int v) noexcept nogil:
    """v (0 to 99) as two digits."""
    put(b, &DIGITS2[2 * v], 2)


cdef void put_day(Buf* b, int day) noexcept nogil:
    """A day number as a quoted YYYY-MM-DD."""
    cdef char tmp[12]
    tmp[0] = b'"'
    write_day(day, tmp + 1)
    tmp[11] = b'"'
    put(b, tmp, 12)


cdef inline bint needs_escape8(uint64_t x) noexcept nogil:
    """Whether any of these 8 bytes is a control, a quote or a backslash (exact: the
    classic SWAR has-less and has-zero tests; bytes from 0x80 never match)."""
    cdef uint64_t ones = 0x0101010101010101ULL
    cdef uint64_t quote = x ^ (0x22 * ones)
    cdef uint64_t backslash = x ^ (0x5C * ones)
    return ((((x - 0x20 * ones) & ~x) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash))
            & 0x8080808080808080ULL) != 0


cdef inline bint needs_escape1(unsigned char c) noexcept nogil:
    return c < 0x20 or c == 0x22 or c == 0x5C


cdef void put_json_string(Buf* b, const char* s, Py_ssize_t n) noexcept nogil:
    """A quoted JSON string from valid UTF-8: only quote, backslash and controls need escapes."""
    cdef Py_ssize_t i = 0
    cdef uint64_t x
    while i + 8 <= n:  # 8 bytes a step: names, kana and codes nearly never need escapes
        memcpy(&x, s + i, 8)
        if needs_escape8(x):
            break
        i += 8
    while i < n and not needs_escape1(<unsigned char>s[i]):
        i += 1
    if i == n:
        if b.n + n + 2 > b.cap and not grow(b, n + 2):
            return
        b.p[b.n] = b'"'
        memcpy(b.p + b.n + 1, s, n)
        b.p[b.n + n + 1] = b'"'
        b.n += n + 2
        return
    put_json_escaped(b, s, n)


cdef void put_json_escaped(Buf* b, const char* s, Py_ssize_t n) noexcept nogil:
    """put_json_string for text that holds a character to escape."""
    cdef Py_ssize_t i, start = 0
    cdef unsigned char c
    cdef char esc[6]
    put(b, b'"', 1)
    for i in range(n):
        c = <unsigned char>s[i]
        if not needs_escape1(c):
            continue
        put(b, s + start, i - start)
        start = i + 1
        if c == 0x22 or c == 0x5C:
            esc[0] = b'\\'
            esc[1] = c
            put(b, esc, 2)
        else:
            esc[0] = b'\\'
            esc[1] = b'u'
            esc[2] = b'0'
            esc[3] = b'0'
            esc[4] = HEX[c >> 4]
            esc[5] = HEX[c & 15]
            put(b, esc, 6)
    put(b, s + start, n - start)
    put(b, b'"', 1)


# ------------------------------------------------------------------ arena

cdef inline const unsigned char* text_at(const unsigned char* arena, int32_t offset,
                                         Py_ssize_t* n) noexcept nogil:
    """A length-prefixed arena string: its bytes, and its length in n (see _build._Arena)."""
    cdef const unsigned char* p = arena + offset
    if p[0] < 255:
        n[0] = p[0]
        return p + 1
    n[0] = p[1] | (p[2] << 8) | (p[3] << 16) | (<Py_ssize_t>p[4] << 24)
    return p + 5


cdef inline bint text_equals(const unsigned char* arena, int32_t offset,
                             const char* s, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t length
    cdef const unsigned char* text = text_at(arena, offset, &length)
    return length == n and memcmp(text, s, n) == 0


cdef inline int hex_value(char c) noexcept nogil:
    return c - 48 if c <= b'9' else c - 55  # '0'-'9', 'A'-'F' (serials are upper-case)


cdef inline Py_ssize_t pack_serial(const char* s, Py_ssize_t n, unsigned char* out) noexcept nogil:
    """The stored form of a serial (_build.pack_serial): digit count, then two digits a byte."""
    cdef Py_ssize_t i
    out[0] = <unsigned char>n
    for i in range(0, n, 2):
        out[1 + i // 2] = hex_value(s[i]) * 16 + (hex_value(s[i + 1]) if i + 1 < n else 0)
    return 1 + (n + 1) // 2


# ------------------------------------------------------------- raw requests

cdef tuple FIELD_NAMES = (
    "institution_code", "presented", "confirmation_date", "proxy", "consent", "certificate_serial",
    "auth_method", "identity_verified", "insurer_number", "symbol", "number", "branch", "birthdate")
cdef Py_ssize_t MAX_BATCH_ITEMS_C = MAX_BATCH_ITEMS


cdef inline bint is_string(const Raw* raw, int k) noexcept nogil:
    return raw.kind[k] == K_STRING


cdef inline int flag(const Raw* raw, int k) noexcept nogil:
    """An optional boolean: 0 when absent or false, 1 when true, -1 when not a boolean."""
    if raw.kind[k] == K_ABSENT or raw.kind[k] == K_FALSE:
        return 0
    return 1 if raw.kind[k] == K_TRUE else -1


cdef inline bint same(const char* s, Py_ssize_t n, const char* word) noexcept nogil:
    cdef Py_ssize_t i = 0
    while i < n and word[i] != 0 and word[i] == s[i]:
        i += 1
    return i == n and word[i] == 0


cdef inline int presented_code(const char* s, Py_ssize_t n) noexcept nogil:
    if same(s, n, b"myna_card"):
        return MYNA_CARD
    if same(s, n, b"legacy_card"):
        return LEGACY_CARD
    if same(s, n, b"eligibility_certificate"):
        return ELIGIBILITY_CERTIFICATE
    if same(s, n, b"info_notice"):
        return INFO_NOTICE
    if same(s, n, b"unspecified"):
        return UNSPECIFIED
    return -1


cdef inline int auth_code(const char* s, Py_ssize_t n) noexcept nogil:
    if same(s, n, b"face"):
        return 0
    if same(s, n, b"pin"):
        return 1
    if same(s, n, b"visual"):
        return 2
    return -1


cdef inline int field_of(const char* s, Py_ssize_t n) noexcept nogil:
    """The F_* number of a request field name (FIELD_NAMES), or -1: by length, then bytes."""
    if n == 6:
        if memcmp(s, b"symbol", 6) == 0:
            return F_SYMBOL
        if memcmp(s, b"number", 6) == 0:
            return F_NUMBER
        if memcmp(s, b"branch", 6) == 0:
            return F_BRANCH
    elif n == 9:
        if memcmp(s, b"presented", 9) == 0:
            return F_PRESENTED
        if memcmp(s, b"birthdate", 9) == 0:
            return F_BIRTH
    elif n == 14:
        if memcmp(s, b"insurer_number", 14) == 0:
            return F_INSURER
    elif n == 16:
        if memcmp(s, b"institution_code", 16) == 0:
            return F_INSTITUTION
    elif n == 17:
        if memcmp(s, b"confirmation_date", 17) == 0:
            return F_DATE
        if memcmp(s, b"identity_verified", 17) == 0:
            return F_IDENTITY
    elif n == 18:
        if memcmp(s, b"certificate_serial", 18) == 0:
            return F_SERIAL
    elif n == 11:
        if memcmp(s, b"auth_method", 11) == 0:
            return F_AUTH
    elif n == 5:
        if memcmp(s, b"proxy", 5) == 0:
            return F_PROXY
    elif n == 7:
        if memcmp(s, b"consent", 7) == 0:
            return F_CONSENT
    return -1


cdef inline bint name_at(
    const char* p, Py_ssize_t i, Py_ssize_t n, const char* name, Py_ssize_t m
) noexcept nogil:
    """Whether p[i:] starts with `name` (m bytes) and its closing quote."""
    return i + m < n and memcmp(p + i, name, m) == 0 and p[i + m] == b'"'


cdef inline int key_at(const char* p, Py_ssize_t i, Py_ssize_t n, Py_ssize_t* end) noexcept nogil:
    """At the first byte of an object key: its F_* number, with the index of its closing
    quote in `end`, when it is a field name of FIELD_NAMES written plainly; else -1.
    Compares whole names instead of scanning the key byte by byte (keys are over half a
    request's bytes); an escaped or unknown key matches nothing, as field_of would."""
    cdef int k = -1
    cdef Py_ssize_t m = 0
    cdef char c = p[i] if i < n else 0
    if c == b'i':
        if name_at(p, i, n, b"institution_code", 16):
            k, m = F_INSTITUTION, 16
        elif name_at(p, i, n, b"insurer_number", 14):
            k, m = F_INSURER, 14
        elif name_at(p, i, n, b"identity_verified", 17):
            k, m = F_IDENTITY, 17
    elif c == b'p':
        if name_at(p, i, n, b"presented", 9):
            k, m = F_PRESENTED, 9
        elif name_at(p, i, n, b"proxy", 5):
            k, m = F_PROXY, 5
    elif c == b's':
        if name_at(p, i, n, b"symbol", 6):
            k, m = F_SYMBOL, 6
    elif c == b'n':
        if name_at(p, i, n, b"number", 6):
            k, m = F_NUMBER, 6
    elif c == b'b':
        if name_at(p, i, n, b"branch", 6):
            k, m = F_BRANCH, 6
        elif name_at(p, i, n, b"birthdate", 9):
            k, m = F_BIRTH, 9
    elif c == b'c':
        if name_at(p, i, n, b"confirmation_date", 17):
            k, m = F_DATE, 17
        elif name_at(p, i, n, b"certificate_serial", 18):
            k, m = F_SERIAL, 18
        elif name_at(p, i, n, b"consent", 7):
            k, m = F_CONSENT, 7
    elif c == b'a':
        if name_at(p, i, n, b"auth_method", 11):
            k, m = F_AUTH, 11
    end[0] = i + m
    return k


def key_number(bytes text):
    """key_at for tests: the F_* number of the key opening `text` (after its quote), or -1."""
    cdef Py_ssize_t end
    return key_at(PyBytes_AS_STRING(text), 0, PyBytes_GET_SIZE(text), &end)


def field_number(bytes name):
    """field_of for tests: every name of FIELD_NAMES maps to its position."""
    return field_of(PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name))


cdef unsigned char STRING_STOP[256]  # bytes that end a plain string: quote, backslash, controls, DEL
for _c in range(256):
    STRING_STOP[_c] = _c == 0x22 or _c == 0x5C or _c < 0x20 or _c == 0x7F


cdef inline Py_ssize_t skip_ws(const char* p, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    while i < n and (p[i] == b' ' or p[i] == b'\n' or p[i] == b'\r' or p[i] == b'\t'):
        i += 1
    return i


cdef inline Py_ssize_t plain_string(const char* p, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """At an opening quote: the index of the closing quote of a string without escapes or
    control characters, or -1 (anything else is left to orjson and the shared validator).
    Bytes from 0x80 pass: `_check_raw` takes them only in a symbol or number, and only
    after decoding them as UTF-8 (`_code_form`); any other field holding them fails its
    ASCII check, so an invalid UTF-8 body still reaches orjson and its 400."""
    cdef unsigned char c
    i += 1
    while i < n:
        c = <unsigned char>p[i]
        if STRING_STOP[c]:  # one table load per byte instead of four comparisons
            return i if c == b'"' else -1
        i += 1
    return -1


cdef inline Py_ssize_t literal(const char* p, Py_ssize_t i, Py_ssize_t n, char* kind) noexcept nogil:
    """At `true` or `false`: the index after it, with its kind; -1 for anything else."""
    if i + 4 <= n and memcmp(p + i, b"true", 4) == 0:
        kind[0] = K_TRUE
        return i + 4
    if i + 5 <= n and memcmp(p + i, b"false", 5) == 0:
        kind[0] = K_FALSE
        return i + 5
    return -1


cdef bint scan_request(const char* p, Py_ssize_t n, Raw* raw):
    """Read a flat request object straight from the body: string and boolean values, the
    consent object, each known field at most once.  False for anything else (nested or
    unknown fields, escapes, non-ASCII text, numbers, nulls, duplicates): orjson decodes
    those and the shared validator judges them, so both paths answer alike."""
    cdef Py_ssize_t i = scan_object(p, skip_ws(p, 0, n), n, raw)
    return i >= 0 and skip_ws(p, i, n) == n


cdef Py_ssize_t scan_object(const char* p, Py_ssize_t i, Py_ssize_t n, Raw* raw):
    """scan_request for the object at p[i]: the index after it, or -1."""
    cdef Py_ssize_t end
    cdef int k
    cdef char kind
    memset(raw, 0, sizeof(Raw))
    if i >= n or p[i] != b'{':
        return -1
    i = skip_ws(p, i + 1, n)
    while True:
        if i >= n or p[i] != b'"':
            return -1
        k = key_at(p, i + 1, n, &end)
        if k < 0 or raw.kind[k] != K_ABSENT:
            return -1
        i = skip_ws(p, end + 1, n)
        if i >= n or p[i] != b':':
            return -1
        i = skip_ws(p, i + 1, n)
        if i >= n:
            return -1
        if k == F_CONSENT:  # exactly {"limit_info": true|false}
            if p[i] != b'{':
                return -1
            i = skip_ws(p, i + 1, n)
            if i + 12 > n or memcmp(p + i, b'"limit_info"', 12) != 0:
                return -1
            i = skip_ws(p, i + 12, n)
            if i >= n or p[i] != b':':
                return -1
            i = literal(p, skip_ws(p, i + 1, n), n, &kind)
            if i < 0:
                return -1
            i = skip_ws(p, i, n)
            if i >= n or p[i] != b'}':
                return -1
            raw.kind[k] = kind
            i += 1
        elif p[i] == b'"':
            end = plain_string(p, i, n)
            if end < 0:
                return -1
            raw.kind[k] = K_STRING
            raw.s[k] = p + i + 1
            raw.n[k] = end - i - 1
            i = end + 1
        else:
            i = literal(p, i, n, &kind)
            if i < 0:
                return -1
            raw.kind[k] = kind
        i = skip_ws(p, i, n)
        if i < n and p[i] == b',':
            i = skip_ws(p, i + 1, n)
            continue
        if i < n and p[i] == b'}':
            return i + 1
        return -1


cdef Py_ssize_t scan_batch(const char* p, Py_ssize_t n, Raw* top, Raw** items):
    """A batch body read like scan_request: institution_code and confirmation_date in `top`,
    each item in a malloc'd array (*items, freed by the caller); the item count, or -1."""
    cdef Py_ssize_t i = skip_ws(p, 0, n), end, count = -1, cap = 0
    cdef Raw* grown
    cdef int k
    memset(top, 0, sizeof(Raw))
    items[0] = NULL
    if i >= n or p[i] != b'{':
        return -1
    i = skip_ws(p, i + 1, n)
    while True:
        if i >= n or p[i] != b'"':
            return -1
        end = plain_string(p, i, n)
        if end < 0:
            return -1
        if end - i - 1 == 5 and memcmp(p + i + 1, b"items", 5) == 0:
            k = -2
        else:
            k = field_of(p + i + 1, end - i - 1)
            if k != F_INSTITUTION and k != F_DATE or top.kind[k] != K_ABSENT:
                return -1
        i = skip_ws(p, end + 1, n)
        if i >= n or p[i] != b':':
            return -1
        i = skip_ws(p, i + 1, n)
        if k == -2:
            if count >= 0 or i >= n or p[i] != b'[':
                return -1
            count = 0
            i = skip_ws(p, i + 1, n)
            if i < n and p[i] == b']':
                i += 1
            else:
                while True:
                    if count == cap:
                        if cap >= MAX_BATCH_ITEMS_C:
                            return -1  # one more than allowed: the decoded path answers 413
                        cap = 64 if cap == 0 else min(cap * 2, MAX_BATCH_ITEMS_C)
                        grown = <Raw*>realloc(items[0], cap * sizeof(Raw))
                        if grown == NULL:
                            return -1
                        items[0] = grown
                    i = scan_object(p, i, n, items[0] + count)
                    if i < 0:
                        return -1
                    count += 1
                    i = skip_ws(p, i, n)
                    if i < n and p[i] == b',':
                        i = skip_ws(p, i + 1, n)
                        continue
                    if i < n and p[i] == b']':
                        i += 1
                        break
                    return -1
        else:
            if i >= n or p[i] != b'"':
                return -1
            end = plain_string(p, i, n)
            if end < 0:
                return -1
            top.kind[k] = K_STRING
            top.s[k] = p + i + 1
            top.n[k] = end - i - 1
            i = end + 1
        i = skip_ws(p, i, n)
        if i < n and p[i] == b',':
            i = skip_ws(p, i + 1, n)
            continue
        if i < n and p[i] == b'}' and skip_ws(p, i + 1, n) == n:
            return count
        return -1


cdef inline int batch_day(const Raw* top, int today) noexcept nogil:
    """A batch's default confirmation day, or -1 to let the decoded path word the error."""
    cdef int day
    if top.kind[F_DATE] == K_ABSENT:
        return today
    day = parse_day_ascii(top.s[F_DATE], top.n[F_DATE])
    if day < FIRST_DAY or day > today + DAYS_AHEAD:
        return -1
    return day


cdef inline bint institution_ok(const Raw* raw) noexcept nogil:
    """A 10-digit institution code (anything else: the shared validator words the 422)."""
    cdef Py_ssize_t i
    if raw.kind[F_INSTITUTION] != K_STRING or raw.n[F_INSTITUTION] != 10:
        return False
    for i in range(10):
        if not (b'0' <= raw.s[F_INSTITUTION][i] <= b'9'):
            return False
    return True


cdef int log_head(LogHead* head, str checked_at, str institution, str request_id) except -1:
    """UTF-8 views of the strings every access-log line of one request repeats."""
    head.at = PyUnicode_AsUTF8AndSize(checked_at, &head.at_n)
    head.institution = PyUnicode_AsUTF8AndSize(institution, &head.institution_n)
    head.request_id = PyUnicode_AsUTF8AndSize(request_id, &head.request_id_n)
    return 0


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

    cdef int _insurer_of(self, int32_t number) noexcept nogil:
        """insurer_index[number], or -1 (number: the value of a canonical insurer number)."""
        cdef uint32_t slot = <uint32_t>(number * <uint32_t>2654435761) & self.insurer_mask
        while self.insurer_keys[slot] >= 0:
            if self.insurer_keys[slot] == number:
                return self.insurer_values[slot]
            slot = (slot + 1) & self.insurer_mask
        return -1

    @property
    def code_counts(self):
        """Decisions made so far, by code number."""
        return [self.counts[i] for i in range(CODE_COUNT)]

    def carry_counts(self, Core previous):
        """Continue the decision counts of the core this one replaces (metrics are counters)."""
        for i in range(CODE_COUNT):
            self.counts[i] += previous.counts[i]

    # ------------------------------------------------------------ parsing

    cdef bint _parse_fast(self, dict req, int today, int default_day, Req* r):
        """Parse a plain well-formed decoded request; False sends it to the shared validator."""
        cdef Raw raw
        cdef Py_ssize_t k
        memset(&raw, 0, sizeof(Raw))
        for k in range(NFIELDS):
            if k == F_CONSENT:
                v = req.get("consent")
                if v is None:
                    continue
                if type(v) is not dict:
                    return False
                v = (<dict>v).get("limit_info")
            else:
                v = req.get(FIELD_NAMES[k])
            if v is None:
                continue
            if type(v) is str:
                raw.s[k] = PyUnicode_AsUTF8AndSize(v, &raw.n[k])
                raw.kind[k] = K_STRING
            elif v is True:
                raw.kind[k] = K_TRUE
            elif v is False:
                raw.kind[k] = K_FALSE
            else:
                return False
        return self._check_raw(&raw, today, default_day, r)

    cdef bint _check_raw(self, const Raw* raw, int today, int default_day, Req* r):
        """The common well-formed request, from its raw field values; False: the shared validator
        decides (and words any error).  Strings stay owned by the caller (dict or body)."""
        cdef const char* s
        cdef Py_ssize_t n, i
        cdef int bit
        cdef int32_t number
        if not is_string(raw, F_PRESENTED):
            return False
        r.presented = presented_code(raw.s[F_PRESENTED], raw.n[F_PRESENTED])
        if r.presented < 0:
            return False
        if raw.kind[F_DATE] == K_ABSENT:
            r.day = default_day
        elif is_string(raw, F_DATE):
            r.day = parse_day_ascii(raw.s[F_DATE], raw.n[F_DATE])
            if r.day < FIRST_DAY or r.day > today + DAYS_AHEAD:
                return False
        else:
            return False
        bit = flag(raw, F_PROXY)
        if bit < 0:
            return False
        r.proxy = bit
        bit = flag(raw, F_CONSENT)
        if bit < 0:
            return False
        r.limit_consent = bit
        if r.presented == MYNA_CARD:
            if not is_string(raw, F_SERIAL):
                return False
            s, n = raw.s[F_SERIAL], raw.n[F_SERIAL]
            if n < 1 or n > 32:
                return False
            for i in range(n):
                if b'0' <= s[i] <= b'9' or b'A' <= s[i] <= b'F':
                    r.serial[i] = s[i]
                elif b'a' <= s[i] <= b'f':
                    r.serial[i] = s[i] - 32
                else:
                    return False
            r.serial_len = n
            if not is_string(raw, F_AUTH):
                return False
            r.auth_method = auth_code(raw.s[F_AUTH], raw.n[F_AUTH])
            return r.auth_method >= 0
        r.identity_verified = False
        if r.presented == INFO_NOTICE:
            bit = flag(raw, F_IDENTITY)
            if bit < 0:
                return False
            r.identity_verified = bit
        if not is_string(raw, F_INSURER):
            return False
        s, n = raw.s[F_INSURER], raw.n[F_INSURER]
        if n != 6 and n != 8:
            return False
        number = 0
        for i in range(n):
            if not (b'0' <= s[i] <= b'9'):
                return False
            number = number * 10 + (s[i] - 48)
        if n == 8 and s[0] == b'0' and s[1] == b'0':
            s += 2
            n = 6
        if not check_digit_ok(s, n):
            return False
        r.insurer = self._insurer_of(number)  # "00" + 6 digits has the 6 digits' value
        if raw.kind[F_SYMBOL] == K_ABSENT:
            r.symbol = b""
            r.symbol_len = 0
        elif is_string(raw, F_SYMBOL):
            r.symbol, r.symbol_len = raw.s[F_SYMBOL], raw.n[F_SYMBOL]
            if not plain_ascii(r.symbol, r.symbol_len):
                if not self._code_form(&r.symbol, &r.symbol_len, True):
                    return False
            elif r.symbol_len > 20:
                return False
        else:
            return False
        if not is_string(raw, F_NUMBER):
            return False
        r.number, r.number_len = raw.s[F_NUMBER], raw.n[F_NUMBER]
        if not plain_ascii(r.number, r.number_len):
            if not self._code_form(&r.number, &r.number_len, False):
                return False
        elif r.number_len < 1 or r.number_len > 20:
            return False
        if raw.kind[F_BRANCH] == K_ABSENT:
            r.branch = -1
        elif is_string(raw, F_BRANCH):
            s, n = raw.s[F_BRANCH], raw.n[F_BRANCH]
            if n == 0:
                r.branch = -1
            elif n == 2 and b'0' <= s[0] <= b'9' and b'0' <= s[1] <= b'9':
                r.branch = (s[0] - 48) * 10 + (s[1] - 48)
            else:
                return False
        else:
            return False
        if not is_string(raw, F_BIRTH):
            return False
        r.birthdate = parse_day_ascii(raw.s[F_BIRTH], raw.n[F_BIRTH])
        return r.birthdate >= 0

    cdef bint _code_form(self, const char** s, Py_ssize_t* n, bint symbol) except -1:
        """A symbol or number that is not plain ASCII (a kanji symbol such as 建, full-width
        digits): its canonical form, by the shared normaliser, memoised by the raw bytes.

        The bytes in *s become the canonical UTF-8, owned by the memo (entries are never
        removed while this core lives).  False: invalid UTF-8 or a value the normaliser
        refuses; the shared validator then answers and words the error.  The memo stops
        growing at CODE_FORMS_MAX entries, so odd inputs cannot exhaust memory."""
        forms = self._symbol_forms if symbol else self._number_forms
        key = PyBytes_FromStringAndSize(s[0], n[0])
        form = forms.get(key)
        if form is None:
            try:
                text = (<bytes>key).decode("utf-8")
            except UnicodeDecodeError:
                form = False
            else:
                value, _error = normalise_symbol(text) if symbol else normalise_number(text)
                form = False if value is None else (<str>value).encode("utf-8")
            if len(forms) < CODE_FORMS_MAX:
                forms[key] = form
            elif form is not False:
                return False  # not memoised, so nothing would keep the bytes alive
        if form is False:
            return False
        s[0] = PyBytes_AS_STRING(form)
        n[0] = PyBytes_GET_SIZE(form)
        return True

    cdef object _parse(self, object req, int today, int default_day, Req* r, list errors):
        """Fill `r`; return the object that keeps its strings alive, or None on errors."""
        cdef Py_ssize_t n, i
        if type(req) is dict and self._parse_fast(<dict>req, today, default_day, r):
            return req
        p = parse_item(req, today, default_day, errors)
        if p is None:
            return None
        r.presented = p.presented
        r.day = p.day
        r.proxy = p.proxy
        r.limit_consent = p.limit_consent
        r.auth_method = p.auth_method
        r.identity_verified = p.identity_verified
        r.branch = p.branch
        r.birthdate = p.birthdate
        if p.presented == MYNA_CARD:
            serial = p.serial.encode("ascii")
            n = len(serial)
            for i in range(n):
                r.serial[i] = (<bytes>serial)[i]
            r.serial_len = n
        else:
            v = self.insurer_index.get(p.insurer_number)
            r.insurer = -1 if v is None else v
            r.symbol = PyUnicode_AsUTF8AndSize(p.symbol, &r.symbol_len)
            r.number = PyUnicode_AsUTF8AndSize(p.number, &r.number_len)
        return p

    # ------------------------------------------------------------ lookups

    cdef int _find_key(self, const Req* r):
        """The first (lowest) qualification row with the request's key, or -1."""
        cdef uint64_t h = key_hash_c(r.insurer, r.symbol, r.symbol_len, r.number, r.number_len)
        cdef uint16_t tag = <uint16_t>(h >> 48)
        cdef Py_ssize_t size = self.key_slots.shape[0]
        cdef Py_ssize_t i = home_slot(h, size)
        cdef int q
        cdef const QRow* row
        while True:
            q = self.key_slots[i]
            if q == -1:
                return -1
            if self.key_slot_tag[i] == tag:
                row = &self.qrows[q]
                if (row.insurer == r.insurer
                        and text_equals(self.arena, row.symbol, r.symbol, r.symbol_len)
                        and text_equals(self.arena, row.number, r.number, r.number_len)):
                    return q  # the key's first row; key_next links the others
            i = i + 1 if i + 1 < size else 0

    cdef int _find_certificate(self, const Req* r):
        cdef uint64_t h = fnv1a(FNV_BASIS,
                                <const unsigned char*>r.serial, r.serial_len)
        cdef uint16_t tag = <uint16_t>(h >> 48)
        cdef Py_ssize_t size = self.cert_slots.shape[0]
        cdef Py_ssize_t i = home_slot(h, size)
        cdef int c
        cdef char packed[18]
        cdef Py_ssize_t packed_len = pack_serial(r.serial, r.serial_len, <unsigned char*>packed)
        while True:
            c = self.cert_slots[i]
            if c == -1:
                return -1
            if (self.cert_slot_tag[i] == tag
                    and text_equals(self.arena, self.crows[c].serial, packed, packed_len)):
                return c
            i = i + 1 if i + 1 < size else 0

    cdef void _warm(self, const Req* r, Warm* w, int stage) noexcept nogil:
        """Stage `stage` of fetching a batch item's rows into the cache before it is decided.

        A lookup is a chain of dependent loads (slot, certificate, person, qualification,
        text on the card path; slot, qualification, person and text on the number path),
        each a likely cache miss once the snapshot outgrows the cache.  A batch item is warmed
        in WARM_STAGES steps, one per item decided before it, so the misses of several
        items are in flight together instead of one after another.  Only prefetches and
        loads of lines an earlier stage fetched; never changes a decision (the decision
        reads everything again)."""
        cdef uint64_t h
        cdef int q, p, k
        if stage == 0:
            w.slot = -1
            w.row = w.qual = w.person = -1
            if r.presented == MYNA_CARD:
                h = fnv1a(FNV_BASIS, <const unsigned char*>r.serial, r.serial_len)
                w.slot = home_slot(h, self.cert_slots.shape[0])
                prefetch(&self.cert_slots[w.slot])
                prefetch(&self.cert_slot_tag[w.slot])
            elif r.insurer >= 0:
                h = key_hash_c(r.insurer, r.symbol, r.symbol_len, r.number, r.number_len)
                w.slot = home_slot(h, self.key_slots.shape[0])
                prefetch(&self.key_slots[w.slot])
                prefetch(&self.key_slot_tag[w.slot])
        elif w.slot < 0:
            return
        elif r.presented == MYNA_CARD:
            if stage == 1:
                w.row = self.cert_slots[w.slot]
                if w.row < 0:
                    w.slot = -1
                    return
                prefetch(&self.crows[w.row])
            elif stage == 2:
                w.person = self.crows[w.row].person
                prefetch(self.arena + self.crows[w.row].serial)
                self._fetch_person(w.person)
            elif stage == 3:
                p = w.person
                q = w.qual = self.prows[p + 1].qual - 1  # the latest row, where the scan starts
                if q < self.prows[p].qual:  # no rows
                    w.slot = -1
                    return
                self._fetch_qualification(q)
                self._fetch_names(p)
            elif stage == 4:
                self._fetch_codes(w.qual)
        else:
            if stage == 1:
                w.qual = self.key_slots[w.slot]
                if w.qual < 0:
                    w.slot = -1
                    return
                self._fetch_qualification(w.qual)
                prefetch(&self.key_next[w.qual])
            elif stage == 2:
                q = w.qual
                w.person = self.qrows[q].person
                self._fetch_codes(q)
                self._fetch_person(w.person)
                if r.presented != UNSPECIFIED and r.presented != INFO_NOTICE:
                    prefetch(&self.q_doc[q])
            elif stage == 3:
                self._fetch_names(w.person)
                if r.presented != UNSPECIFIED and r.presented != INFO_NOTICE:
                    k = self.q_doc[w.qual]
                    prefetch(&self.d_kind[k])
                    prefetch(&self.d_issued[k])
                    prefetch(&self.d_until[k])
                    prefetch(&self.d_void[k])

    cdef void _fetch_person(self, int p) noexcept nogil:
        """Prefetch person p's row."""
        prefetch(&self.prows[p])

    cdef void _fetch_qualification(self, int q) noexcept nogil:
        """Prefetch qualification q's row."""
        prefetch(&self.qrows[q])

    cdef void _fetch_codes(self, int q) noexcept nogil:
        """Prefetch qualification q's symbol and number text (its row must be cached)."""
        prefetch(self.arena + self.qrows[q].symbol)
        prefetch(self.arena + self.qrows[q].number)

    cdef void _fetch_names(self, int p) noexcept nogil:
        """Prefetch person p's name texts (its row must be cached)."""
        prefetch(self.arena + self.prows[p].name)
        if self.prows[p].kana >= 0:
            prefetch(self.arena + self.prows[p].kana)

    cdef bint _in_force(self, int q, int day):
        return self.qrows[q].acquired <= day < self.qrows[q].lost

    cdef bint _registered(self, int p, int day):
        cdef int rel = day - EVENT_BASE  # registrations are stored as event days
        return self.prows[p].reg_from <= rel <= self.prows[p].reg_last

    # ---------------------------------------------------------- decisions

    cdef Decision _card_path(self, const Req* r):
        cdef Decision out
        cdef int day = r.day, c, p, q
        cdef const CRow* cert
        out.qual = -1
        out.person = -1
        out.warnings = 0
        if r.proxy:
            out.code = PROXY_NOT_ALLOWED
            return out
        c = self._find_certificate(r)
        if c < 0:
            out.code = CERTIFICATE_UNKNOWN
            return out
        cert = &self.crows[c]
        p = cert.person
        out.person = p
        cdef int rel = day - EVENT_BASE  # certificate dates are stored as event days
        cdef int expires = cert.expires
        cdef int grace_end = EVENT_MAX if expires == EVENT_MAX else (
            certificate_grace_end(expires + EVENT_BASE) - EVENT_BASE)
        if rel < cert.issued or cert.revoked <= rel or rel > grace_end:
            out.code = CERTIFICATE_INVALID
            return out
        if rel > expires:
            out.warnings |= W_GRACE
        if cert.face_only and r.auth_method == AUTH_PIN:
            out.code = FACE_AUTH_REQUIRED
            return out
        if not self._registered(p, day):
            out.code = NOT_REGISTERED
            return out
        # Rows are sorted by (acquired_on, id): scanning backwards meets the latest first.
        out.code = NO_VALID_QUALIFICATION
        cdef int first = self.prows[p].qual, end = self.prows[p + 1].qual
        for q in range(end - 1, first - 1, -1):
            if self._in_force(q, day):
                if out.code == VALID:
                    out.code = VALID_MULTIPLE
                    return out
                if out.code == NO_VALID_QUALIFICATION:
                    out.code = VALID
                    out.qual = q
        if out.code == NO_VALID_QUALIFICATION:
            for q in range(end - 1, first - 1, -1):
                if self.qrows[q].acquired <= day:
                    out.qual = q
                    break
        return out

    cdef Decision _number_path(self, const Req* r):
        cdef Decision out
        cdef int day = r.day, k, q, p = -1, chosen_in_force = -1, chosen_started = -1
        cdef int earliest = -1, o, best_end = NO_DOCUMENT, rel, person
        cdef bint issued = False
        cdef const QRow* row
        out.qual = -1
        out.person = -1
        out.warnings = 0
        if r.presented == INFO_NOTICE:
            if r.proxy:
                out.code = PROXY_NOT_ALLOWED
                return out
            if not r.identity_verified:
                out.code = INFO_NOTICE_ALONE
                return out
        out.code = NOT_FOUND
        if r.insurer < 0:
            return out
        k = self._find_key(r)
        while k >= 0:
            q = k
            k = self.key_next[q]  # -1 after the key's last row
            row = &self.qrows[q]
            person = row.person
            if self.prows[person].birth != r.birthdate:
                continue
            if r.branch >= 0 and row.branch != r.branch:
                continue
            if p == -1:
                p = person
            elif p != person:
                out.code = AMBIGUOUS
                return out
            # Within one person, a higher row number is a later (acquired_on, id).
            if row.acquired <= day < row.lost and q > chosen_in_force:
                chosen_in_force = q
            if row.acquired <= day and q > chosen_started:
                chosen_started = q
            if earliest == -1 or q < earliest:
                earliest = q
        if p == -1:
            return out
        q = chosen_in_force if chosen_in_force >= 0 else (
            chosen_started if chosen_started >= 0 else earliest)
        out.qual = q
        out.person = p
        row = &self.qrows[q]
        if day < row.acquired:
            out.code = NOT_YET_EFFECTIVE
            return out
        if day >= row.lost:
            out.code = LOST
            for o in range(self.prows[p].qual, self.prows[p + 1].qual):
                if o != q and self._in_force(o, day):
                    out.code = SUPERSEDED
                    break
            return out
        if r.presented == INFO_NOTICE:
            if not self._registered(p, day):
                out.code = NOT_REGISTERED
                out.qual = -1
                return out
        elif r.presented != UNSPECIFIED:
            rel = day - EVENT_BASE  # document dates are stored as event days
            for k in range(self.q_doc[q], self.q_doc[q + 1]):
                if self.d_kind[k] == r.presented and self.d_issued[k] <= rel:
                    issued = True
                    if rel <= self.d_until[k] and rel < self.d_void[k] and self.d_until[k] > best_end:
                        best_end = self.d_until[k]
            if not issued:
                out.code = DOCUMENT_NOT_ISSUED
                return out
            if best_end == NO_DOCUMENT:
                out.code = DOCUMENT_EXPIRED
                return out
            if best_end - rel <= EXPIRES_SOON_DAYS:
                out.warnings |= W_SOON
        out.code = VALID
        return out

    # ------------------------------------------------------------ answers
    # Answers are written straight into one byte buffer: no dicts, no str objects,
    # no serializer pass.  Everything fixed is encoded once (module or __init__).

    cdef int _put_text(self, Buf* b, int32_t offset) except -1:
        cdef Py_ssize_t n
        cdef const unsigned char* text = text_at(self.arena, offset, &n)
        put_json_string(b, <const char*>text, n)
        return 0

    cdef int _put_person(self, Buf* b, int q) except -1:
        """The person block of the person qualification q belongs to."""
        cdef const PRow* person = &self.prows[self.qrows[q].person]
        put(b, b'{"name":', 8)
        self._put_text(b, person.name)
        put(b, b',"name_kana":', 13)
        if person.kana >= 0:
            self._put_text(b, person.kana)
        else:
            put(b, b"null", 4)
        put(b, b',"sex":', 7)
        put_int(b, self.qrows[q].sex)
        put(b, b',"birthdate":', 13)
        put_day(b, person.birth)
        put(b, b"}", 1)
        return 0

    cdef int _put_qualification(self, Buf* b, int q, int day, bint limit_consent) except -1:
        cdef const QRow* row = &self.qrows[q]
        cdef int ins = row.insurer, branch = row.branch
        cdef int income = row.income, copay, limit
        cdef bint late = self.insurer_late[ins]
        cdef int birth = self.prows[row.person].birth
        cdef bint elderly = not late and day >= elderly_first_day(birth)
        cdef bint preschool = day <= preschool_last_day(birth)
        if late:
            copay = 10 + 10 * income
        elif elderly:
            copay = 30 if income == INCOME_HIGH else 20
        elif preschool:
            copay = 20
        else:
            copay = 30
        put(b, b'{"qualification_id":', 20)
        if row.id != BIG_ID:
            put_int(b, row.id)
        else:
            put_int(b, self.q_id_big[q])
        put_bytes(b, self.insurer_json[ins])  # ,"insurer_number":…,"insurer_name":…
        put(b, b',"symbol":', 10)
        self._put_text(b, row.symbol)
        put(b, b',"number":', 10)
        self._put_text(b, row.number)
        if branch < 0:
            put(b, b',"branch":null', 14)
        else:
            put(b, b',"branch":"', 11)
            put_digits2(b, branch)
            put(b, b'"', 1)
        put(b, b',"relationship":', 16)
        put_int(b, row.relationship)
        put(b, b',"acquired_on":', 15)
        put_day(b, row.acquired)
        put(b, b',"lost_on":', 11)
        if row.lost == NO_END:
            put(b, b"null", 4)
        else:
            put_day(b, row.lost)
        put(b, b',"copay_percent":', 17)
        put_int(b, copay)
        put(b, b',"preschool":', 13)
        put_bool(b, preschool)
        put(b, b',"elderly_recipient":', 21)
        put_bool(b, elderly)
        put(b, b',"late_elderly":', 16)
        put_bool(b, late)
        if limit_consent:
            limit = row.limit
            put(b, b',"limit_category":', 18)
            if limit < 0:
                put(b, b"null", 4)
            else:
                put_bytes(b, self.limit_json[limit])
        put(b, b"}", 1)
        return 0

    cdef Core _route(self, const Req* r):
        """The overlay for a key or serial touched since this snapshot was built, else self."""
        if self.overlay is None:
            return self
        if r.presented == MYNA_CARD:
            if r.serial[:r.serial_len] in self.dirty_serials:
                return self.overlay
        elif r.insurer >= 0 and (
            (r.insurer, r.symbol[:r.symbol_len], r.number[:r.number_len]) in self.dirty_keys
        ):
            return self.overlay
        return self

    cdef int _log_line(
        self, bytearray log, const LogHead* head, int presented, int code, int p, int q
    ) except -1:
        """Append this decision's access-log line (core_ext._logline.access_line) to `log`:
        sized for the longest line, written in place, then cut to what was written."""
        cdef bytes pres = <bytes>LOG_PRESENTED[presented]
        cdef bytes name = <bytes>LOG_CODE[code]
        cdef Py_ssize_t start = PyByteArray_GET_SIZE(log)
        cdef Py_ssize_t most = (head.at_n + head.institution_n + head.request_id_n
                                + PyBytes_GET_SIZE(pres) + PyBytes_GET_SIZE(name) + 2 * 24 + 8)
        if PyByteArray_Resize(log, start + most) < 0:
            return -1
        cdef char* base = PyByteArray_AS_STRING(log)
        cdef char* w = write_text(base + start, head.at, head.at_n)
        w[0] = b','
        w = write_text(w + 1, head.institution, head.institution_n)
        w[0] = b','
        w = write_text(w + 1, PyBytes_AS_STRING(pres), PyBytes_GET_SIZE(pres))
        w = write_text(w, PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name))
        w = write_text(w, head.request_id, head.request_id_n)
        w[0] = b','
        w += 1
        if p >= 0:
            w = write_int(w, self.prows[p].id if self.prows[p].id != BIG_ID else <long long>self.p_id_big[p])
        w[0] = b','
        w += 1
        if q >= 0:
            w = write_int(w, self.qrows[q].id if self.qrows[q].id != BIG_ID else <long long>self.q_id_big[q])
        w[0] = b'\n'
        return PyByteArray_Resize(log, w + 1 - base)

    cdef int _put_result(self, Buf* b, const Req* r, bytes checked_at, bint stale,
                         bytearray log, const LogHead* head) except -1:
        """The fields of one result, from "checked_at" to "alternatives", without braces."""
        cdef Decision dec
        cdef int q, p
        cdef bint first = True
        cdef Core core = self._route(r)
        if r.presented == MYNA_CARD:
            dec = core._card_path(r)
        else:
            dec = core._number_path(r)
        self.counts[dec.code] += 1
        if log is not None:
            core._log_line(log, head, r.presented, dec.code, dec.person, dec.qual)
        put(b, b'"checked_at":', 13)
        put_bytes(b, checked_at)
        put(b, b',"confirmation_date":', 21)
        put_day(b, r.day)
        put_bytes(b, <bytes>CODE_JSON[dec.code])  # ,"eligible":…,"message":…
        put(b, b',"warnings":[', 13)
        if dec.warnings & W_GRACE:
            put(b, b'"CERTIFICATE_GRACE_PERIOD"', 26)
            first = False
        if dec.warnings & W_SOON:
            if not first:
                put(b, b",", 1)
            put(b, b'"DOCUMENT_EXPIRES_SOON"', 23)
            first = False
        if stale:
            if not first:
                put(b, b",", 1)
            put(b, b'"SNAPSHOT_STALE"', 16)
        if not (CODE_DISCLOSES[dec.code] and dec.qual >= 0):
            put(b, b'],"person":null,"qualification":null,"alternatives":[]', 54)
            return 0
        p = core.qrows[dec.qual].person
        put(b, b'],"person":', 11)
        core._put_person(b, dec.qual)
        put(b, b',"qualification":', 17)
        core._put_qualification(b, dec.qual, r.day, r.limit_consent)
        put(b, b',"alternatives":[', 17)
        if dec.code == VALID_MULTIPLE:
            # The person's other qualifications in force, latest first.
            first = True
            for q in range(dec.qual - 1, core.prows[p].qual - 1, -1):
                if core._in_force(q, r.day):
                    if not first:
                        put(b, b",", 1)
                    core._put_qualification(b, q, r.day, r.limit_consent)
                    first = False
        put(b, b"]", 1)
        return 0

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
            and self._check_raw(&raw, today, today, &r)  # r's strings point into body
        ):
            mine = PyUnicode_AsUTF8AndSize(institution, &n)
            if n != 10 or memcmp(mine, raw.s[F_INSTITUTION], 10) != 0:
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
            keep = self._parse(req, today, today, &r, errors)  # owns r's strings
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
            self._put_result(b, &r, self._checked_at_json(checked_at), stale, log, &head)
            put(b, b',"snapshot":', 12)
            put_bytes(b, snapshot)
            put(b, b"}", 1)
            buf_done(b)
            return 200, PyBytes_FromStringAndSize(b.p, b.n)
        finally:
            if b.cap > OUT_KEEP:  # an unusually long answer: give the memory back
                free(b.p)
                buf_init(b, OUT_START)

    cdef int _put_batch_head(self, Buf* b, str request_id, str checked_at) except -1:
        cdef Py_ssize_t n
        cdef const char* s = PyUnicode_AsUTF8AndSize(request_id, &n)
        put(b, b'{"request_id":', 14)
        put_json_string(b, s, n)
        put(b, b',"checked_at":', 14)
        put_bytes(b, self._checked_at_json(checked_at))
        put(b, b',"results":[', 12)
        return 0

    cdef bytes _checked_at_json(self, str checked_at):
        """checked_at as JSON; it changes once a millisecond, not once a request."""
        if checked_at is not self._last_checked_at:
            self._last_checked_at = checked_at
            self._last_checked_at_json = orjson.dumps(checked_at)
        return self._last_checked_at_json

    def confirm_batch(self, bytes body, str institution, int today, str request_id,
                      str checked_at, bytes snapshot, bint stale=False, bytearray log=None):
        """Answer POST /v1/confirmations/batch from the raw body: (HTTP status, answer JSON)."""
        cdef LogHead head
        cdef Req r
        cdef Buf b
        cdef Raw top
        cdef Raw* raws = NULL
        cdef Req* reqs = NULL
        cdef Warm warm[WARM_RING]
        cdef Py_ssize_t count, k, n, ahead
        cdef int stage
        cdef int day
        cdef bint plain
        cdef const char* mine
        if log is not None:
            log_head(&head, checked_at, institution, request_id)
        count = scan_batch(PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body), &top, &raws)
        try:
            day = batch_day(&top, today) if count >= 0 and institution_ok(&top) else -1
            plain = day >= 0
            if plain:
                reqs = <Req*>malloc((count + 1) * sizeof(Req))
                if reqs == NULL:
                    raise MemoryError()
                for k in range(count):
                    if not self._check_raw(raws + k, today, day, reqs + k):  # strings point into body
                        plain = False
                        break
            if plain:
                mine = PyUnicode_AsUTF8AndSize(institution, &n)
                if n != 10 or memcmp(mine, top.s[F_INSTITUTION], 10) != 0:
                    return 403, INSTITUTION_MISMATCH
                buf_init(&b, 256 + 1024 * count)
                try:
                    self._put_batch_head(&b, request_id, checked_at)
                    for k in range(-WARM_STAGES, count):
                        # Item k + s is at stage WARM_STAGES - s: the furthest just starts.
                        # WARM_STAGES items are in flight, each in its own slot of the ring.
                        for stage in range(WARM_STAGES):
                            ahead = k + WARM_STAGES - stage
                            if 0 <= ahead < count:
                                self._warm(reqs + ahead, &warm[ahead & (WARM_RING - 1)], stage)
                        if k < 0:
                            continue
                        if k:
                            put(&b, b",", 1)
                        put(&b, b"{", 1)
                        self._put_result(&b, reqs + k, self._checked_at_json(checked_at), stale, log, &head)
                        put(&b, b"}", 1)
                    put(&b, b'],"snapshot":', 13)
                    put_bytes(&b, snapshot)
                    put(&b, b"}", 1)
                    buf_done(&b)
                    return 200, PyBytes_FromStringAndSize(b.p, b.n)
                finally:
                    free(b.p)
        finally:
            free(raws)
            free(reqs)
        req = json_object(body)
        if req is None:
            return 400, MALFORMED_JSON
        items = (<dict>req).get("items")
        if type(items) is list and len(<list>items) > MAX_BATCH_ITEMS:
            return 413, TOO_MANY_ITEMS
        cdef list errors = []
        cdef int default_day = check_batch(req, today, errors)
        if errors:
            return 422, orjson.dumps(validation_error(errors))
        if req["institution_code"] != institution:
            return 403, INSTITUTION_MISMATCH
        cdef list item_errors
        cdef bytes checked = self._checked_at_json(checked_at)
        cdef bint first = True
        buf_init(&b, 256 + 1024 * len(<list>items))
        try:
            self._put_batch_head(&b, request_id, checked_at)
            for item in <list>items:
                if not first:
                    put(&b, b",", 1)
                first = False
                item_errors = []
                keep = self._parse(item, today, default_day, &r, item_errors)
                if keep is None:
                    put_bytes(&b, orjson.dumps(validation_error(item_errors)))
                else:
                    put(&b, b"{", 1)
                    self._put_result(&b, &r, checked, stale, log, &head)
                    put(&b, b"}", 1)
            put(&b, b'],"snapshot":', 13)
            put_bytes(&b, snapshot)
            put(&b, b"}", 1)
            buf_done(&b)
            return 200, PyBytes_FromStringAndSize(b.p, b.n)
        finally:
            free(b.p)


def row_offsets():
    """Each row struct's size and field offsets, named as in core_ext._rows (for a test)."""
    cdef QRow q
    cdef PRow p
    cdef CRow c
    cdef size_t qb = <size_t>&q, pb = <size_t>&p, cb = <size_t>&c
    return {
        "q_rows": (sizeof(QRow), {
            "q_person": <size_t>&q.person - qb, "q_symbol": <size_t>&q.symbol - qb,
            "q_number": <size_t>&q.number - qb, "q_acquired": <size_t>&q.acquired - qb,
            "q_lost": <size_t>&q.lost - qb, "q_id": <size_t>&q.id - qb,
            "q_insurer": <size_t>&q.insurer - qb, "q_branch": <size_t>&q.branch - qb,
            "q_relationship": <size_t>&q.relationship - qb, "q_income": <size_t>&q.income - qb,
            "q_limit": <size_t>&q.limit - qb, "q_sex": <size_t>&q.sex - qb}),
        "p_rows": (sizeof(PRow), {
            "p_qual": <size_t>&p.qual - pb, "p_birth": <size_t>&p.birth - pb,
            "p_name": <size_t>&p.name - pb, "p_kana": <size_t>&p.kana - pb,
            "p_id": <size_t>&p.id - pb, "p_reg_from": <size_t>&p.reg_from - pb,
            "p_reg_last": <size_t>&p.reg_last - pb}),
        "c_rows": (sizeof(CRow), {
            "c_person": <size_t>&c.person - cb, "c_serial": <size_t>&c.serial - cb,
            "c_issued": <size_t>&c.issued - cb, "c_expires": <size_t>&c.expires - cb,
            "c_revoked": <size_t>&c.revoked - cb, "c_face_only": <size_t>&c.face_only - cb}),
    }


def buffer_address(const unsigned char[::1] view):
    """The address of a byte buffer's first byte (for a test of the rows' alignment)."""
    return <size_t>&view[0] if view.shape[0] else 0
