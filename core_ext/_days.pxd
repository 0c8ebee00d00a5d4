# Civil dates as day numbers (date.toordinal), shared by the compiled core and the
# compiled row checks; twins of _text.parse_day and datetime.date.

cdef inline int days_from_civil(int y, int m, int d) nogil:
    """Day number (date.toordinal) of a valid Gregorian date, years 1-9999."""
    y -= m <= 2
    cdef int era = y // 400
    cdef int yoe = y - era * 400
    cdef int doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    cdef int doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468 + 719163


cdef inline bint is_leap(int y) nogil:
    return (y % 4 == 0 and y % 100 != 0) or y % 400 == 0


cdef inline int parse_day_ascii(const char* s, Py_ssize_t n) nogil:
    """Strict YYYY-MM-DD to a day number, or -1."""
    cdef int i, y, m, d, dim
    if n != 10 or s[4] != b'-' or s[7] != b'-':
        return -1
    for i in range(10):
        if i != 4 and i != 7 and not (b'0' <= s[i] <= b'9'):
            return -1
    y = (s[0] - 48) * 1000 + (s[1] - 48) * 100 + (s[2] - 48) * 10 + (s[3] - 48)
    m = (s[5] - 48) * 10 + (s[6] - 48)
    d = (s[8] - 48) * 10 + (s[9] - 48)
    if y < 1 or m < 1 or m > 12 or d < 1:
        return -1
    if m == 2:
        dim = 29 if is_leap(y) else 28
    elif m == 4 or m == 6 or m == 9 or m == 11:
        dim = 30
    else:
        dim = 31
    if d > dim:
        return -1
    return days_from_civil(y, m, d)
