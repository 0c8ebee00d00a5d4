cdef struct Strings:
    # Distinct strings, each stored once behind its length (the layout of _build._Arena),
    # found again through an open-addressing table of entry numbers with hash tags.
    unsigned char* buf
    Py_ssize_t used
    Py_ssize_t cap
    int* offsets        # entry -> offset in buf
    Py_ssize_t count
    Py_ssize_t offsets_cap
    int* slots          # entry number, -1 = empty
    unsigned int* tags  # high hash bits of each slot's entry
    Py_ssize_t mask


cdef int strings_init(Strings* t) except -1:
    t.cap = 1 << 16
    t.buf = <unsigned char*>malloc(t.cap)
    t.offsets_cap = 1 << 12
    t.offsets = <int*>malloc(t.offsets_cap * sizeof(int))
    t.mask = (1 << 13) - 1
    t.slots = <int*>malloc((t.mask + 1) * sizeof(int))
    t.tags = <unsigned int*>malloc((t.mask + 1) * sizeof(unsigned int))
    if t.buf == NULL or t.offsets == NULL or t.slots == NULL or t.tags == NULL:
        raise MemoryError()
    memset(t.slots, 0xFF, (t.mask + 1) * sizeof(int))
    t.used = 0
    t.count = 0
    return 0


cdef void strings_free(Strings* t) noexcept nogil:
    free(t.buf)
    free(t.offsets)
    free(t.slots)
    free(t.tags)
    memset(t, 0, sizeof(Strings))


cdef int strings_append(Strings* t, const unsigned char* p, Py_ssize_t n) except -1:
    """Store bytes behind their length; returns their offset (no lookup: for unique strings)."""
    cdef Py_ssize_t need = t.used + n + 5, offset = t.used
    cdef unsigned char* grown
    if need > 0x7FFFFFFF:
        raise ValueError("the string arena outgrew 2 GB")
    if need > t.cap:
        while t.cap < need:
            t.cap *= 2
        grown = <unsigned char*>realloc(t.buf, t.cap)
        if grown == NULL:
            raise MemoryError()
        t.buf = grown
    if n < LONG_TEXT:
        t.buf[t.used] = <unsigned char>n
        t.used += 1
    else:
        t.buf[t.used] = LONG_TEXT
        t.buf[t.used + 1] = n & 0xFF
        t.buf[t.used + 2] = (n >> 8) & 0xFF
        t.buf[t.used + 3] = (n >> 16) & 0xFF
        t.buf[t.used + 4] = (n >> 24) & 0xFF
        t.used += 5
    memcpy(t.buf + t.used, p, n)
    t.used += n
    return <int>offset


cdef int strings_grow_table(Strings* t) except -1:
    cdef Py_ssize_t size = (t.mask + 1) * 2, e, i
    cdef int* slots = <int*>malloc(size * sizeof(int))
    cdef unsigned int* tags = <unsigned int*>malloc(size * sizeof(unsigned int))
    cdef const unsigned char* text
    cdef Py_ssize_t n
    cdef uint64_t h
    if slots == NULL or tags == NULL:
        free(slots)
        free(tags)
        raise MemoryError()
    memset(slots, 0xFF, size * sizeof(int))
    for e in range(t.count):
        text = text_at(t.buf, t.offsets[e], &n)
        h = fnv1a(FNV_BASIS, text, n)
        i = h & (size - 1)
        while slots[i] != -1:
            i = (i + 1) & (size - 1)
        slots[i] = <int>e
        tags[i] = <unsigned int>(h >> 32)
    free(t.slots)
    free(t.tags)
    t.slots = slots
    t.tags = tags
    t.mask = size - 1
    return 0


cdef int strings_find(Strings* t, const unsigned char* p, Py_ssize_t n, bint add) except -2:
    """The entry number of a string; a new entry if `add`, else -1 when absent."""
    cdef uint64_t h = fnv1a(FNV_BASIS, p, n)
    cdef unsigned int tag = <unsigned int>(h >> 32)
    cdef Py_ssize_t i = h & t.mask, m
    cdef int e
    cdef const unsigned char* text
    cdef int* grown
    while t.slots[i] != -1:
        e = t.slots[i]
        if t.tags[i] == tag:
            text = text_at(t.buf, t.offsets[e], &m)
            if m == n and memcmp(text, p, n) == 0:
                return e
        i = (i + 1) & t.mask
    if not add:
        return -1
    if t.count == t.offsets_cap:
        t.offsets_cap *= 2
        grown = <int*>realloc(t.offsets, t.offsets_cap * sizeof(int))
        if grown == NULL:
            raise MemoryError()
        t.offsets = grown
    e = <int>t.count
    t.offsets[e] = strings_append(t, p, n)
    t.count += 1
    t.slots[i] = e
    t.tags[i] = tag
    if t.count * 2 > t.mask + 1:
        strings_grow_table(t)
    return e


cdef inline int strings_intern(Strings* t, const unsigned char* p, Py_ssize_t n) except -2:
    """The offset of a string, stored on first sight."""
    return t.offsets[strings_find(t, p, n, True)]
