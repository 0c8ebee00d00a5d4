# Snapshot access: arena strings, the insurer, key and certificate indexes, the overlay
# route, and the prefetching that warms a batch item's rows before its decision.

cdef inline bint text_equals(const unsigned char* arena, int32_t offset,
                             const char* s, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t length
    cdef const unsigned char* text = text_at(arena, offset, &length)
    return length == n and memcmp(text, s, n) == 0


cdef int insurer_of(Core self, int32_t number) noexcept nogil:
    """insurer_index[number], or -1 (number: the value of a canonical insurer number)."""
    cdef uint32_t slot = <uint32_t>(number * <uint32_t>2654435761) & self.insurer_mask
    while self.insurer_keys[slot] >= 0:
        if self.insurer_keys[slot] == number:
            return self.insurer_values[slot]
        slot = (slot + 1) & self.insurer_mask
    return -1

cdef int find_key(Core self, const Req* r):
    """The first (lowest) qualification row with the request's key, or -1."""
    cdef uint64_t h = key_hash_c(r.insurer, r.symbol, r.symbol_len, r.number, r.number_len)
    cdef uint16_t tag = <uint16_t>(h >> 48)
    cdef Py_ssize_t size = self.key_slots.shape[0]
    cdef Py_ssize_t i = home_slot(h, size)
    cdef int q
    cdef const QRow* row
    while True:
        q = self.key_slots[i]
        if q == -1:
            return -1
        if self.key_slot_tag[i] == tag:
            row = &self.qrows[q]
            if (row.insurer == r.insurer
                    and text_equals(self.arena, row.symbol, r.symbol, r.symbol_len)
                    and text_equals(self.arena, row.number, r.number, r.number_len)):
                return q  # the key's first row; key_next links the others
        i = i + 1 if i + 1 < size else 0

cdef int find_certificate(Core self, const Req* r):
    cdef uint64_t h = fnv1a(FNV_BASIS,
                            <const unsigned char*>r.serial, r.serial_len)
    cdef uint16_t tag = <uint16_t>(h >> 48)
    cdef Py_ssize_t size = self.cert_slots.shape[0]
    cdef Py_ssize_t i = home_slot(h, size)
    cdef int c
    cdef unsigned char packed[17]
    cdef Py_ssize_t packed_len = pack_serial(<const unsigned char*>r.serial, r.serial_len, packed)
    while True:
        c = self.cert_slots[i]
        if c == -1:
            return -1
        if (self.cert_slot_tag[i] == tag
                and text_equals(self.arena, self.crows[c].serial, <const char*>packed, packed_len)):
            return c
        i = i + 1 if i + 1 < size else 0

cdef void warm_item(Core self, const Req* r, Warm* w, int stage) noexcept nogil:
    """Stage `stage` of fetching a batch item's rows into the cache before it is decided.

    A lookup is a chain of dependent loads (slot, certificate, person, qualification,
    text on the card path; slot, qualification, person and text on the number path),
    each a likely cache miss once the snapshot outgrows the cache.  A batch item is warmed
    in WARM_STAGES steps, one per item decided before it, so the misses of several
    items are in flight together instead of one after another.  Only prefetches and
    loads of lines an earlier stage fetched; never changes a decision (the decision
    reads everything again)."""
    cdef uint64_t h
    cdef int q, p, k
    if stage == 0:
        w.slot = -1
        w.row = w.qual = w.person = -1
        if r.presented == MYNA_CARD:
            h = fnv1a(FNV_BASIS, <const unsigned char*>r.serial, r.serial_len)
            w.slot = home_slot(h, self.cert_slots.shape[0])
            prefetch(&self.cert_slots[w.slot])
            prefetch(&self.cert_slot_tag[w.slot])
        elif r.insurer >= 0:
            h = key_hash_c(r.insurer, r.symbol, r.symbol_len, r.number, r.number_len)
            w.slot = home_slot(h, self.key_slots.shape[0])
            prefetch(&self.key_slots[w.slot])
            prefetch(&self.key_slot_tag[w.slot])
    elif w.slot < 0:
        return
    elif r.presented == MYNA_CARD:
        if stage == 1:
            w.row = self.cert_slots[w.slot]
            if w.row < 0:
                w.slot = -1
                return
            prefetch(&self.crows[w.row])
        elif stage == 2:
            w.person = self.crows[w.row].person
            prefetch(self.arena + self.crows[w.row].serial)
            fetch_person(self, w.person)
        elif stage == 3:
            p = w.person
            q = w.qual = self.prows[p + 1].qual - 1  # the latest row, where the scan starts
            if q < self.prows[p].qual:  # no rows
                w.slot = -1
                return
            fetch_qualification(self, q)
            fetch_names(self, p)
        elif stage == 4:
            fetch_codes(self, w.qual)
    else:
        if stage == 1:
            w.qual = self.key_slots[w.slot]
            if w.qual < 0:
                w.slot = -1
                return
            fetch_qualification(self, w.qual)
            prefetch(&self.key_next[w.qual])
        elif stage == 2:
            q = w.qual
            w.person = self.qrows[q].person
            fetch_codes(self, q)
            fetch_person(self, w.person)
            if r.presented != UNSPECIFIED and r.presented != INFO_NOTICE:
                prefetch(&self.q_doc[q])
        elif stage == 3:
            fetch_names(self, w.person)
            if r.presented != UNSPECIFIED and r.presented != INFO_NOTICE:
                k = self.q_doc[w.qual]
                prefetch(&self.d_kind[k])
                prefetch(&self.d_issued[k])
                prefetch(&self.d_until[k])
                prefetch(&self.d_void[k])

cdef void fetch_person(Core self, int p) noexcept nogil:
    """Prefetch person p's row."""
    prefetch(&self.prows[p])

cdef void fetch_qualification(Core self, int q) noexcept nogil:
    """Prefetch qualification q's row."""
    prefetch(&self.qrows[q])

cdef void fetch_codes(Core self, int q) noexcept nogil:
    """Prefetch qualification q's symbol and number text (its row must be cached)."""
    prefetch(self.arena + self.qrows[q].symbol)
    prefetch(self.arena + self.qrows[q].number)

cdef void fetch_names(Core self, int p) noexcept nogil:
    """Prefetch person p's name texts (its row must be cached)."""
    prefetch(self.arena + self.prows[p].name)
    if self.prows[p].kana >= 0:
        prefetch(self.arena + self.prows[p].kana)

cdef bint in_force(Core self, int q, int day):
    return self.qrows[q].acquired <= day < self.qrows[q].lost

cdef bint registered(Core self, int p, int day):
    cdef int rel = day - EVENT_BASE  # registrations are stored as event days
    return self.prows[p].reg_from <= rel <= self.prows[p].reg_last

cdef Core route(Core self, const Req* r):
    """The overlay for a key or serial touched since this snapshot was built, else self."""
    if self.overlay is None:
        return self
    if r.presented == MYNA_CARD:
        if r.serial[:r.serial_len] in self.dirty_serials:
            return self.overlay
    elif r.insurer >= 0 and (
        (r.insurer, r.symbol[:r.symbol_len], r.number[:r.number_len]) in self.dirty_keys
    ):
        return self.overlay
    return self
