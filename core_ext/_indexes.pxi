# The snapshot's indexes and orders: slot tables, permutations, bucket orders, the key index.

cdef tuple slot_table(const int* values, const unsigned long long* hashes, Py_ssize_t count):
    """_build._table: (slots, tags), linear probing from home_slot at load MAX_LOAD."""
    cdef Py_ssize_t size = <Py_ssize_t>(count / MAX_LOAD) + 1
    if size < 8:
        size = 8
    cdef carray.array slots = zeros(I32, size)
    cdef carray.array tags = zeros(U16, size)
    cdef int* s = slots.data.as_ints
    cdef unsigned short* t = tags.data.as_ushorts
    cdef Py_ssize_t k, i
    with nogil:
        memset(s, 0xFF, size * sizeof(int))  # -1 = empty
        for k in range(count):
            i = home_slot(hashes[k], size)
            while s[i] != -1:
                i = i + 1 if i + 1 < size else 0
            s[i] = values[k]
            t[i] = <unsigned short>(hashes[k] >> 48)
    return slots, tags


cdef carray.array permuted(carray.array source, const int* order, Py_ssize_t n):
    """A new array of the same type: source[order[0]], source[order[1]], ..."""
    cdef carray.array out = carray.clone(source, n, False)
    cdef int size = source.ob_descr.itemsize
    cdef Py_ssize_t k
    with nogil:
        if size == 1:
            for k in range(n):
                out.data.as_schars[k] = source.data.as_schars[order[k]]
        elif size == 2:
            for k in range(n):
                out.data.as_shorts[k] = source.data.as_shorts[order[k]]
        elif size == 4:
            for k in range(n):
                out.data.as_ints[k] = source.data.as_ints[order[k]]
        else:
            for k in range(n):
                out.data.as_longlongs[k] = source.data.as_longlongs[order[k]]
    return out


cdef carray.array bucket_order(const int* bucket, Py_ssize_t count, Py_ssize_t buckets,
                               int* starts):
    """Rows grouped by bucket, stable: `starts` (buckets + 1 entries) gets each bucket's start."""
    cdef carray.array order = zeros(I32, count)
    cdef int* o = order.data.as_ints
    cdef int* fill = <int*>malloc((buckets + 1) * sizeof(int))
    if fill == NULL:
        raise MemoryError()
    cdef Py_ssize_t r, b
    with nogil:
        memset(starts, 0, (buckets + 1) * sizeof(int))
        for r in range(count):
            starts[bucket[r] + 1] += 1
        for b in range(buckets):
            starts[b + 1] += starts[b]
        for b in range(buckets + 1):
            fill[b] = starts[b]
        for r in range(count):
            o[fill[bucket[r]]] = <int>r
            fill[bucket[r]] += 1
    free(fill)
    return order


cdef void sort_runs(int* order, const int* starts, Py_ssize_t buckets,
                    const int* day, const long long* ident) noexcept nogil:
    """Sort each bucket's rows by (day, id): insertion sort, as buckets are tiny."""
    cdef Py_ssize_t b, i, j
    cdef int r
    for b in range(buckets):
        for i in range(starts[b] + 1, starts[b + 1]):
            r = order[i]
            j = i - 1
            while j >= starts[b] and (
                day[order[j]] > day[r] or (day[order[j]] == day[r] and ident[order[j]] > ident[r])
            ):
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = r


cdef dict key_index(const unsigned char* arena, carray.array q_insurer, carray.array q_symbol,
                    carray.array q_number):
    """Group qualifications by (insurer, symbol, number) in first-seen order and index the
    groups: key_next, key_slots, key_slot_tag (the layout of _build.build_snapshot)."""
    cdef Py_ssize_t nq = len(q_insurer), j, g, groups = 0, size = 16
    while size < 2 * nq:
        size <<= 1
    cdef uint64_t mask = size - 1, i
    # Interned strings make a key three integers: (insurer, symbol offset, number offset).
    cdef uint64_t* slot_a = <uint64_t*>malloc(size * sizeof(uint64_t))
    cdef unsigned int* slot_b = <unsigned int*>malloc(size * sizeof(unsigned int))
    cdef int* slot_g = <int*>malloc(size * sizeof(int))
    cdef carray.array group_of = zeros(I32, nq)
    cdef carray.array first = zeros(I32, nq)
    cdef int* gq = group_of.data.as_ints
    cdef int* fq = first.data.as_ints
    cdef const short* ins = q_insurer.data.as_shorts
    cdef const int* sym = q_symbol.data.as_ints
    cdef const int* num = q_number.data.as_ints
    cdef uint64_t a
    cdef unsigned int b
    if slot_a == NULL or slot_b == NULL or slot_g == NULL:
        free(slot_a)
        free(slot_b)
        free(slot_g)
        raise MemoryError()
    with nogil:
        memset(slot_g, 0xFF, size * sizeof(int))
        for j in range(nq):
            a = (<uint64_t><unsigned short>ins[j] << 32) | <unsigned int>sym[j]
            b = <unsigned int>num[j]
            i = mix(a * <uint64_t>0x9E3779B97F4A7C15 ^ b) & mask
            while slot_g[i] != -1 and not (slot_a[i] == a and slot_b[i] == b):
                i = (i + 1) & mask
            if slot_g[i] == -1:
                slot_a[i] = a
                slot_b[i] = b
                slot_g[i] = <int>groups
                fq[groups] = <int>j
                groups += 1
            gq[j] = slot_g[i]
    free(slot_a)
    free(slot_b)
    free(slot_g)

    cdef carray.array starts = zeros(I32, groups + 1)
    cdef carray.array key_members = bucket_order(gq, nq, groups, starts.data.as_ints)
    cdef carray.array key_next = zeros(I32, nq)
    cdef carray.array hashes = zeros(U64, groups)
    cdef int* km = key_members.data.as_ints
    cdef int* kn = key_next.data.as_ints
    cdef Py_ssize_t k
    cdef const unsigned char* s
    cdef const unsigned char* t
    cdef Py_ssize_t sn, tn
    cdef int* st = starts.data.as_ints
    cdef unsigned long long* hs = hashes.data.as_ulonglongs
    with nogil:
        for g in range(groups):
            # A group's rows in ascending order, linked from the first (fq[g]).
            for k in range(st[g], st[g + 1] - 1):
                kn[km[k]] = km[k + 1]
            kn[km[st[g + 1] - 1]] = -1
            j = fq[g]
            s = text_at(arena, sym[j], &sn)
            t = text_at(arena, num[j], &tn)
            hs[g] = key_hash_c(ins[j], <const char*>s, sn, <const char*>t, tn)
    key_slots, key_slot_tag = slot_table(fq, hashes.data.as_ulonglongs, groups)
    return dict(key_next=key_next, key_slots=key_slots, key_slot_tag=key_slot_tag)
