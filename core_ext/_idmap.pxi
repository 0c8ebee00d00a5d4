cdef struct IdMap:
    # From a positive 64-bit id to a row.  Ids are usually dense (1..N): then a plain
    # array indexed by id - base (`direct`), read in nearly sequential order;
    # otherwise open addressing (`keys`, 0 = empty, and `values`).
    int* direct
    long long base
    long long span
    long long* keys
    int* values
    uint64_t mask


cdef inline uint64_t mix(uint64_t x) noexcept nogil:
    x ^= x >> 33
    x *= <uint64_t>0xFF51AFD7ED558CCD
    x ^= x >> 33
    return x


cdef bint idmap_build(IdMap* m, const long long* ids, const int* order, Py_ssize_t n) except -1:
    """Map ids[order[j]] (ids[j] without an order) to j; False if an id appears twice."""
    cdef long long low = 0, high = 0, key
    cdef Py_ssize_t j
    cdef uint64_t size = 16, i
    cdef bint unique = True
    for j in range(n):
        key = ids[order[j] if order != NULL else j]
        if j == 0 or key < low:
            low = key
        if j == 0 or key > high:
            high = key
    if n > 0 and high - low < 4 * n + 1024:
        m.base = low
        m.span = high - low + 1
        m.direct = <int*>malloc(m.span * sizeof(int))
        if m.direct == NULL:
            raise MemoryError()
        with nogil:
            memset(m.direct, 0xFF, m.span * sizeof(int))
            for j in range(n):
                key = ids[order[j] if order != NULL else j] - low
                if m.direct[key] != -1:
                    unique = False
                m.direct[key] = <int>j
        return unique
    while size < <uint64_t>(2 * n):
        size <<= 1
    m.keys = <long long*>calloc(size, sizeof(long long))
    m.values = <int*>malloc(size * sizeof(int))
    if m.keys == NULL or m.values == NULL:
        raise MemoryError()
    m.mask = size - 1
    with nogil:
        for j in range(n):
            key = ids[order[j] if order != NULL else j]
            i = mix(<uint64_t>key) & m.mask
            while m.keys[i] != 0 and m.keys[i] != key:
                i = (i + 1) & m.mask
            if m.keys[i] == key:
                unique = False
            m.keys[i] = key
            m.values[i] = <int>j
    return unique


cdef inline int idmap_get(const IdMap* m, long long key) noexcept nogil:
    """The row of an id, or -1."""
    cdef uint64_t i
    if m.direct != NULL:
        key -= m.base
        return m.direct[key] if 0 <= key < m.span else -1
    if m.keys == NULL:
        return -1
    i = mix(<uint64_t>key) & m.mask
    while m.keys[i] != 0:
        if m.keys[i] == key:
            return m.values[i]
        i = (i + 1) & m.mask
    return -1


cdef void idmap_free(IdMap* m) noexcept nogil:
    free(m.direct)
    free(m.keys)
    free(m.values)
    memset(m, 0, sizeof(IdMap))
