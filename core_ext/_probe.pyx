# cython: language_level=3
"""Test-only views into the compiled core's C helpers (tests/core_ext import this, nothing else).

It compiles the same included sources as core_ext._core (dates, field names) and the same
row structs (_types.pxd), so what a test sees here is what the core runs.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memcmp, memcpy

from ._days cimport days_from_civil
from ._types cimport *
from ._core cimport Core

include "_dates.pxi"
include "_field_names.pxi"


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


def key_number(bytes text):
    """key_at for tests: the F_* number of the key opening `text` (after its quote), or -1."""
    cdef Py_ssize_t end
    return key_at(PyBytes_AS_STRING(text), 0, PyBytes_GET_SIZE(text), &end)


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


def memo_sizes(Core core):
    """(symbols, numbers) the core has memoised in code_form."""
    return len(core._symbol_forms), len(core._number_forms)


def drop_answer_buffer(Core core):
    """Leave the core's answer buffer as a failed allocation does: no memory, no capacity."""
    free(core._out.p)
    core._out.p = NULL
    core._out.cap = 0
    core._out.n = 0
