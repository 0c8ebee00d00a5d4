# Day numbers (date.toordinal()) to civil dates, and the age and grace boundaries the rules use.

cdef inline void civil(int day, int* y, int* m, int* d) noexcept nogil:
    """Year, month and day of a day number (date.toordinal()), for years 1 to about 10,000.

    Neri and Schneider's Euclidean affine functions (Software: Practice and Experience,
    2023): multiplications and shifts instead of the divisions of the textbook
    algorithm; tests/core_ext/test_days.py compares every day of 1800-2300 with Python."""
    # days since 0000-03-01 (a computational year starts in March)
    cdef uint32_t n = <uint32_t>(day - 1 + 306)
    cdef uint32_t n1 = 4 * n + 3
    cdef uint32_t century = n1 // 146097
    cdef uint32_t n2 = (n1 % 146097) | 3
    cdef uint64_t p2 = <uint64_t>2939745 * n2
    cdef uint32_t z = <uint32_t>(p2 >> 32)
    cdef uint32_t n_y = <uint32_t>p2 // 2939745 // 4  # the low 32 bits
    cdef uint32_t n3 = 2141 * n_y + 197913
    cdef uint32_t j = n_y >= 306
    y[0] = <int>(100 * century + z + j)
    m[0] = <int>((n3 >> 16) - 12 * j)
    d[0] = <int>((n3 & 0xFFFF) // 2141 + 1)


# "00" to "99": two digits with one load.
cdef char DIGITS2[200]
for _c in range(100):
    DIGITS2[2 * _c] = 48 + _c // 10
    DIGITS2[2 * _c + 1] = 48 + _c % 10


cdef void write_day(int day, char* buf) noexcept nogil:
    """A day number as the 10 characters YYYY-MM-DD, for years 1 to 9999 (every date Onshi
    holds or is asked about was validated as YYYY-MM-DD; DIGITS2 has no entry past 99)."""
    cdef int y, m, d
    civil(day, &y, &m, &d)
    memcpy(buf, &DIGITS2[2 * (y // 100)], 2)
    memcpy(buf + 2, &DIGITS2[2 * (y % 100)], 2)
    buf[4] = b'-'
    memcpy(buf + 5, &DIGITS2[2 * m], 2)
    buf[7] = b'-'
    memcpy(buf + 8, &DIGITS2[2 * d], 2)


cdef inline int last_of_month(int y, int m) noexcept nogil:
    """The last day of month m of year y (m may run past 12)."""
    y += (m - 1) // 12
    m = (m - 1) % 12 + 1
    if m == 12:
        return days_from_civil(y + 1, 1, 1) - 1
    return days_from_civil(y, m + 1, 1) - 1


cdef inline void attain_month(int birth, int years, int* y, int* m) noexcept nogil:
    """Year and month of attaining age `years`: the day before the birthday (_text.attain_day)."""
    cdef int by, bm, bd
    civil(birth, &by, &bm, &bd)
    y[0] = by + years
    m[0] = bm
    if bd == 1:  # the day before is in the previous month (29 February stays in February)
        if bm == 1:
            y[0] -= 1
            m[0] = 12
        else:
            m[0] = bm - 1


cdef inline int preschool_last_day(int birth) noexcept nogil:
    """The first 31 March on or after attaining 6 (_text.preschool_last_day)."""
    cdef int y, m
    attain_month(birth, 6, &y, &m)
    return days_from_civil(y if m <= 3 else y + 1, 3, 31)


cdef inline int elderly_first_day(int birth) noexcept nogil:
    """The 1st of the month after attaining 70 (_text.elderly_first_day)."""
    cdef int y, m
    attain_month(birth, 70, &y, &m)
    return last_of_month(y, m) + 1


cdef inline int certificate_grace_end(int expires) noexcept nogil:
    """The end of the 3rd month after the month of expiry (_text.certificate_grace_end)."""
    cdef int y, m, d
    civil(expires, &y, &m, &d)
    return last_of_month(y, m + 3)
