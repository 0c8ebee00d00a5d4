# Request field names to their F_* numbers (_types.pxd), without building a str.

cdef inline bint name_at(
    const char* p, Py_ssize_t i, Py_ssize_t n, const char* name, Py_ssize_t m
) noexcept nogil:
    """Whether p[i:] starts with `name` (m bytes) and its closing quote."""
    return i + m < n and memcmp(p + i, name, m) == 0 and p[i + m] == b'"'


cdef inline int key_at(const char* p, Py_ssize_t i, Py_ssize_t n, Py_ssize_t* end) noexcept nogil:
    """At the first byte of an object key: its F_* number, with the index of its closing
    quote in `end`, when it is a field name of FIELD_NAMES written plainly; else -1.
    Compares whole names instead of scanning the key byte by byte (keys are over half a
    request's bytes); an escaped or unknown key matches nothing."""
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
