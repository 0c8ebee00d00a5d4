# PostgreSQL's binary COPY fields to typed array columns.

cdef carray.array I32 = array("i")
cdef carray.array I16 = array("h")
cdef carray.array I8 = array("b")
cdef carray.array U32 = array("I")
cdef carray.array U16 = array("H")
cdef carray.array I64 = array("q")
cdef carray.array U64 = array("Q")


cdef inline long long be_int(const unsigned char* p, int n) noexcept nogil:
    """A big-endian signed integer of 1, 2, 4 or 8 bytes."""
    cdef uint64_t v = 0
    cdef int i
    for i in range(n):
        v = (v << 8) | p[i]
    if n < 8 and n > 0 and (p[0] & 0x80):
        v |= (<uint64_t>0xFFFFFFFFFFFFFFFF) << (8 * n)
    return <long long>v


cdef inline short event_day(long long day) noexcept nogil:
    """_build.event_day: an int16 offset from EVENT_BASE, clamped; NO_END and later -> EVENT_MAX."""
    if day >= NO_END:
        return EVENT_MAX
    day -= EVENT_BASE
    if day < EVENT_MIN:
        return EVENT_MIN
    if day > EVENT_MAX:
        return EVENT_MAX
    return <short>day


cdef inline carray.array zeros(carray.array template, Py_ssize_t n):
    return carray.clone(template, n, True)


cdef inline int push(carray.array a, long long v) except -1:
    """Append to a typed array (amortised growth); the value is cast to the array's type."""
    cdef Py_ssize_t n = len(a)
    carray.resize_smart(a, n + 1)
    cdef char t = a.ob_descr.typecode
    if t == b"i":
        a.data.as_ints[n] = <int>v
    elif t == b"h":
        a.data.as_shorts[n] = <short>v
    elif t == b"b":
        a.data.as_schars[n] = <signed char>v
    else:  # "q"
        a.data.as_longlongs[n] = v
    return 0
