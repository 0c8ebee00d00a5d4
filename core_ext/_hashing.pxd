# The index hashes shared by the compiled core and the compiled builder
# (twins of _text.fnv1a, _text.key_hash and _build.home_slot).
from libc.stdint cimport uint32_t, uint64_t

# FNV-1a's 64-bit offset basis (core_ext._text.FNV_BASIS; _core checks the two agree at import).
cdef extern from *:
    """
    #define ONSHI_FNV_BASIS 0xCBF29CE484222325ULL
    """
    const uint64_t FNV_BASIS "ONSHI_FNV_BASIS"


cdef inline uint64_t fnv1a(uint64_t h, const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        h = (h ^ p[i]) * <uint64_t>0x100000001B3
    return h


cdef inline uint64_t key_hash_c(int insurer, const char* sym, Py_ssize_t sym_len,
                                const char* num, Py_ssize_t num_len) noexcept nogil:
    cdef unsigned int u = <unsigned int>insurer
    cdef unsigned char ins[4]
    cdef unsigned char sep = 0x1F
    ins[0] = u & 0xFF
    ins[1] = (u >> 8) & 0xFF
    ins[2] = (u >> 16) & 0xFF
    ins[3] = (u >> 24) & 0xFF
    cdef uint64_t h = fnv1a(FNV_BASIS, ins, 4)
    h = fnv1a(h, <const unsigned char*>sym, sym_len)
    h = fnv1a(h, &sep, 1)
    return fnv1a(h, <const unsigned char*>num, num_len)


cdef inline Py_ssize_t home_slot(uint64_t h, Py_ssize_t size) noexcept nogil:
    """Where probing starts: the hash, mixed, scaled to the table (see _build.home_slot)."""
    cdef uint64_t mixed = (h ^ (h >> 32)) * <uint64_t>0x9E3779B97F4A7C15
    return <Py_ssize_t>(((mixed >> 32) * <uint64_t>size) >> 32)
