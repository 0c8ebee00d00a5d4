# The arena's string layout (core_ext._build._Arena) and the stored form of a certificate
# serial (core_ext._build.pack_serial), shared by the compiled core and the stream builder.

cdef enum:
    LONG_TEXT = 255  # this length byte: the length follows in 4 bytes, little-endian


cdef inline const unsigned char* text_at(const unsigned char* arena, Py_ssize_t offset,
                                         Py_ssize_t* n) noexcept nogil:
    """A length-prefixed arena string: its bytes, and its length in n."""
    cdef const unsigned char* p = arena + offset
    if p[0] < LONG_TEXT:
        n[0] = p[0]
        return p + 1
    n[0] = p[1] | (p[2] << 8) | (p[3] << 16) | (<Py_ssize_t>p[4] << 24)
    return p + 5


cdef inline int hex_value(unsigned char c) noexcept nogil:
    if c <= b'9':  # 0-9
        return c - 48
    if c <= b'F':  # A-F (serials are canonical upper-case)
        return c - 55
    return c - 87  # a-f


cdef inline Py_ssize_t pack_serial(const unsigned char* s, Py_ssize_t n, unsigned char* out) noexcept nogil:
    """A serial of n hex digits (n <= 32) as stored: the digit count, then two digits a byte
    (out holds 17 bytes); the stored length."""
    cdef Py_ssize_t i
    out[0] = <unsigned char>n
    for i in range(0, n, 2):
        out[1 + i // 2] = (hex_value(s[i]) << 4) | (hex_value(s[i + 1]) if i + 1 < n else 0)
    return 1 + (n + 1) // 2
