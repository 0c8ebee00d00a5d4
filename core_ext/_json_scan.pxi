# The scanner of plain request bodies: flat objects of ASCII strings and booleans read in
# place; anything else is left to orjson and the shared validator (core_ext._request).

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
        return AUTH_FACE
    if same(s, n, b"pin"):
        return AUTH_PIN
    if same(s, n, b"visual"):
        return AUTH_VISUAL
    return -1


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
    cdef Py_ssize_t i = skip_ws(p, 0, n), end, name_end, count = -1, cap = 0
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
            k = key_at(p, i + 1, n, &name_end)  # a match ends at the string's closing quote
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
