# JSON output: a growable byte buffer and writers for the answers' integers, days and strings.

cdef const char* HEX = b"0123456789abcdef"

cdef int buf_init(Buf* b, Py_ssize_t cap) except -1:
    b.n = 0
    b.failed = False
    b.p = <char*>malloc(cap)
    b.cap = 0 if b.p == NULL else cap  # never a capacity without the memory behind it
    if b.p == NULL:
        raise MemoryError()
    return 0


cdef void buf_reset(Buf* b, Py_ssize_t cap) noexcept nogil:
    """Give a grown buffer's memory back and start again small.  Without memory for that,
    the buffer is left empty (no pointer, no capacity): the next write grows it."""
    free(b.p)
    b.n = 0
    b.failed = False
    b.p = <char*>malloc(cap)
    b.cap = 0 if b.p == NULL else cap


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
