from libc.stdint cimport int8_t, int16_t, int32_t, uint16_t, uint32_t

from ._types cimport *


cdef class Core:
    cdef readonly object data
    cdef readonly Core overlay
    cdef set dirty_keys
    cdef set dirty_serials
    cdef object _arena_ref
    cdef const unsigned char* arena
    cdef dict insurer_index
    # insurer_index by the insurer number's value (6-digit numbers are below 1,000,000 and
    # 8-digit ones from it, so the value is unique): open addressing, -1 = empty.
    cdef int32_t* insurer_keys
    cdef int32_t* insurer_values
    cdef uint32_t insurer_mask
    cdef list insurer_json     # per insurer: b',"insurer_number":…,"insurer_name":…'
    cdef list limit_json       # per limit category: its name as a JSON string
    cdef const int8_t[::1] insurer_late
    cdef dict p_id_big
    cdef dict q_id_big
    cdef const int32_t[::1] q_doc
    cdef const int8_t[::1] d_kind
    cdef const int16_t[::1] d_issued
    cdef const int16_t[::1] d_until
    cdef const int16_t[::1] d_void
    cdef const int32_t[::1] key_next
    cdef const int32_t[::1] key_slots
    cdef const uint16_t[::1] key_slot_tag
    cdef const int32_t[::1] cert_slots
    cdef const uint16_t[::1] cert_slot_tag
    cdef object _rows_ref      # the row buffers the pointers below point into
    cdef const QRow* qrows
    cdef const PRow* prows
    cdef const CRow* crows
    cdef long long counts[CODE_COUNT]
    cdef str _last_checked_at
    cdef bytes _last_checked_at_json
    cdef dict _symbol_forms
    cdef Buf _out          # the single-answer buffer, reused across calls
    cdef dict _number_forms

    cdef int _index_insurers(self) except -1
    cdef bytes _answer_batch(self, const Req* reqs, Py_ssize_t count, list failures, str request_id,
                             str checked_at, bytes snapshot, bint stale, bytearray log, str institution)
