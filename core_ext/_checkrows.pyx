# cython: language_level=3
"""The common rows of a data set, checked at C speed; every other row goes to the Python checks.

`service.dataset.validate` checks each row with small Python methods that record
every problem.  Nearly every row of a real data set is already canonical: ASCII
digits for ids, `YYYY-MM-DD` dates, known codes.  Each function here walks one
table's `(line, row)` source and accepts a row only when every cell is in that
common form and every cross-check passes (unique id, known person, insurer or
qualification, the document rules); it then appends exactly the row the Python
checks would build.  Any other row - malformed, duplicate, dangling, or merely
unusual (full-width digits, a zero-padded insurer number) - is handed to `slow(line,
row)`, the Python checks, which then find and word the problem.  So the result never
depends on which path a row took; tests/service/test_checkrows.py compares both on
random and broken data sets.
"""

from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_AsUTF8AndSize

from ._build import HELD, CertificateRow, DocumentRow, PersonRow, QualificationRow, RegistrationRow
from ._codes import DOCUMENT_KINDS, ELIGIBILITY_CERTIFICATE as _CERTIFICATE, INCOME_CLASSES
from ._codes import LEGACY_CARD as _LEGACY_CARD, LIMIT_CATEGORIES
from ._text import parse_day as _parse_day
from sys import intern

from ._days cimport parse_day_ascii

cdef long long MAX_ID = 9223372036854775807
cdef int LEGACY_CARD = _LEGACY_CARD
cdef int CERTIFICATE = _CERTIFICATE
cdef int NO_LEGACY_FROM = _parse_day("2024-12-02")
cdef dict SEX = {"1": 1, "2": 2, "3": 3}
cdef dict RELATIONSHIP = {"1": 1, "2": 2}
cdef dict FACE_ONLY = {"0": 0, "1": 1}
cdef dict KINDS = dict(DOCUMENT_KINDS)
cdef dict INCOMES = dict(INCOME_CLASSES)
cdef frozenset LIMITS = frozenset(LIMIT_CATEGORIES)
# How many leading cells each row type holds; a filled cell after them (a column no rule
# reads, core_ext._build.UNHELD) sends the row to the Python checks, which validate it.
cdef Py_ssize_t PERSON_HELD = len(HELD["persons"])
cdef Py_ssize_t QUAL_HELD = len(HELD["qualifications"])
cdef Py_ssize_t DOC_HELD = len(HELD["documents"])
cdef Py_ssize_t CERT_HELD = len(HELD["certificates"])
cdef Py_ssize_t REG_HELD = len(HELD["registrations"])
cdef tuple NO_EXTRA = ()


cdef inline long long ident(object value):
    """A present cell of ASCII digits as 1..2^63-1, else 0 (leading zeros allowed, as int() does)."""
    if type(value) is not str:
        return 0
    cdef Py_ssize_t n, i
    cdef const char* s = PyUnicode_AsUTF8AndSize(value, &n)
    if n == 0:
        return 0
    while n > 1 and s[0] == b'0':  # int("007") == 7
        s += 1
        n -= 1
    if n > 19:
        return 0
    cdef unsigned long long v = 0
    for i in range(n):
        if not (b'0' <= s[i] <= b'9'):
            return 0
        v = v * 10 + <unsigned long long>(s[i] - 48)
    if v == 0 or v > <unsigned long long>MAX_ID:
        return 0
    return <long long>v


# One int object per day from 1900 to 2199, shared by every row: at ten million
# members, separate objects for ~10 dates a member would cost gigabytes.
cdef int FIRST_SHARED_DAY = _parse_day("1900-01-01")
cdef list SHARED_DAYS = list(range(FIRST_SHARED_DAY, _parse_day("2200-01-01")))


cdef inline object day_object(int d):
    cdef int k = d - FIRST_SHARED_DAY
    if 0 <= k < len(SHARED_DAYS):
        return SHARED_DAYS[k]
    return d


cdef inline int day(object value):
    """A present `YYYY-MM-DD` cell as a day number, else -1."""
    if type(value) is not str:
        return -1
    cdef Py_ssize_t n
    cdef const char* s = PyUnicode_AsUTF8AndSize(value, &n)
    return parse_day_ascii(s, n)


cdef inline object optional_day(object value, bint* ok):
    """None for an empty cell, the day number for a valid one; clears `ok` otherwise."""
    if value is None or value == "":
        return None
    cdef int d = day(value)
    if d < 0:
        ok[0] = False
        return None
    return day_object(d)


cdef inline tuple cells_of(object row, tuple columns):
    """A row as cells in column order: sources give tuples (CSV) or dicts (demo, upserts)."""
    if type(row) is tuple and len(<tuple>row) == len(columns):
        return <tuple>row
    return tuple([row.get(c) for c in columns])


cdef inline bint unheld_filled(tuple r, Py_ssize_t held):
    """Whether a cell after the first `held` is filled (an empty loop for most tables)."""
    cdef Py_ssize_t i
    for i in range(held, len(r)):
        v = r[i]
        if v is not None and v != "":
            return True
    return False


cdef inline object memo(dict cache, object normalise, object raw):
    """normalise(raw) remembered: (canonical, problem)."""
    outcome = cache.get(raw)
    if outcome is None:
        outcome = normalise(raw)
        if len(cache) < 500_000:
            cache[raw] = outcome
    return outcome


def persons(source, slow, tuple columns, dict person_line, list out):
    cdef long long pid
    cdef int birth
    cdef tuple r
    for line, row in source:
        r = cells_of(row, columns)
        pid = ident(r[0])
        name = r[1]
        kana = r[2]
        sex = SEX.get(r[3])
        birth = day(r[4])
        if (
            pid == 0 or pid in person_line or unheld_filled(r, PERSON_HELD)
            or not name or type(name) is not str or sex is None or birth < 0
        ):
            slow(line, row)
            continue
        # Names repeat across millions of persons: keep one copy of each.
        kana = intern(kana) if kana else None
        person_line[pid] = line
        out.append(tuple.__new__(PersonRow, (pid, intern(name), kana, sex, day_object(birth), NO_EXTRA)))


def qualifications(
    source, slow, tuple columns, dict qual_line, dict person_line, dict insurer_line,
    normalise_symbol, normalise_number, dict symbols, dict numbers, list out,
):
    cdef long long qid, pid
    cdef int acquired
    cdef bint ok
    cdef Py_ssize_t n
    cdef const char* s
    cdef int branch
    cdef tuple r
    for line, row in source:
        ok = True
        r = cells_of(row, columns)
        qid = ident(r[0])
        pid = ident(r[1])
        insurer = r[2]
        symbol = r[3]
        number = r[4]
        raw_branch = r[5]
        relationship = RELATIONSHIP.get(r[6])
        acquired = day(r[7])
        lost = optional_day(r[8], &ok)
        income = r[9]
        income = 0 if not income else INCOMES.get(income)
        limit = r[10]
        if not limit:
            limit = None
        elif limit not in LIMITS:
            ok = False
        # A canonical insurer number is its own normal form (validated with insurers.csv).
        if (
            not ok or unheld_filled(r, QUAL_HELD)
            or qid == 0 or pid == 0 or qid in qual_line or pid not in person_line
            or insurer not in insurer_line or relationship is None or acquired < 0 or income is None
            or type(symbol) is not str and symbol is not None or type(number) is not str
        ):
            slow(line, row)
            continue
        symbol, problem = memo(symbols, normalise_symbol, symbol if symbol else "")
        if problem is not None:
            slow(line, row)
            continue
        number, problem = memo(numbers, normalise_number, number)
        if problem is not None:
            slow(line, row)
            continue
        if not raw_branch:
            branch = -1
        else:
            if type(raw_branch) is not str:
                slow(line, row)
                continue
            s = PyUnicode_AsUTF8AndSize(raw_branch, &n)
            if n != 2 or not (b'0' <= s[0] <= b'9') or not (b'0' <= s[1] <= b'9'):
                slow(line, row)
                continue
            branch = (s[0] - 48) * 10 + (s[1] - 48)
        qual_line[qid] = line
        out.append(tuple.__new__(QualificationRow, (
            qid, pid, insurer, symbol, number, branch, relationship, day_object(acquired), lost, income,
            limit, NO_EXTRA,
        )))


def documents(source, slow, tuple columns, dict doc_line, dict qual_line, list out):
    cdef long long did, qid
    cdef int issued
    cdef bint ok
    cdef tuple r
    for line, row in source:
        ok = True
        r = cells_of(row, columns)
        did = ident(r[0])
        qid = ident(r[1])
        kind = KINDS.get(r[2])
        issued = day(r[3])
        raw_until = r[4]
        until = optional_day(raw_until, &ok)
        void = optional_day(r[5], &ok)
        if (
            not ok or did == 0 or qid == 0 or kind is None or issued < 0 or unheld_filled(r, DOC_HELD)
            or did in doc_line or qid not in qual_line
            or kind == LEGACY_CARD and issued >= NO_LEGACY_FROM
            or kind == CERTIFICATE and not raw_until
        ):
            slow(line, row)
            continue
        doc_line[did] = line
        out.append(tuple.__new__(DocumentRow, (did, qid, kind, day_object(issued), until, void, NO_EXTRA)))


cdef inline bint hex_serial(object value, Py_ssize_t* length):
    if type(value) is not str:
        return False
    cdef Py_ssize_t n, i
    cdef const char* s = PyUnicode_AsUTF8AndSize(value, &n)
    if n < 1 or n > 32:
        return False
    for i in range(n):
        if not (b'0' <= s[i] <= b'9' or b'A' <= s[i] <= b'F' or b'a' <= s[i] <= b'f'):
            return False
    length[0] = n
    return True


def certificates(source, slow, tuple columns, dict serial_line, dict person_line, list out):
    cdef long long pid
    cdef int issued, expires
    cdef bint ok
    cdef Py_ssize_t n
    cdef tuple r
    for line, row in source:
        ok = True
        r = cells_of(row, columns)
        serial = r[0]
        pid = ident(r[1])
        issued = day(r[2])
        expires = day(r[3])
        revoked = optional_day(r[4], &ok)
        face = r[5]
        face = 0 if not face else FACE_ONLY.get(face)
        if (
            not ok or unheld_filled(r, CERT_HELD) or not hex_serial(serial, &n)
            or pid == 0 or issued < 0 or expires < 0 or face is None
        ):
            slow(line, row)
            continue
        serial = serial.upper()
        if serial in serial_line or pid not in person_line:
            slow(line, row)
            continue
        serial_line[serial] = line
        out.append(tuple.__new__(
            CertificateRow,
            (serial, pid, day_object(issued), day_object(expires), revoked, bool(face), NO_EXTRA),
        ))


def registrations(source, slow, tuple columns, dict registered_line, dict person_line, list out):
    cdef long long pid
    cdef int registered
    cdef bint ok
    cdef tuple r
    for line, row in source:
        ok = True
        r = cells_of(row, columns)
        pid = ident(r[0])
        registered = day(r[1])
        requested = optional_day(r[2], &ok)
        if (
            not ok or unheld_filled(r, REG_HELD) or pid == 0 or registered < 0
            or pid in registered_line or pid not in person_line
        ):
            slow(line, row)
            continue
        registered_line[pid] = line
        out.append(tuple.__new__(RegistrationRow, (pid, day_object(registered), requested, NO_EXTRA)))


def csv_cells(reader, tuple where, Py_ssize_t width):
    """(line, cells in column order) from a csv.reader: `where[k]` is column k's index in the
    header, `width` (the header length) for a column the header lacks; short rows read as None."""
    cdef Py_ssize_t n, k, i
    cdef list cells
    cdef Py_ssize_t count = len(where)
    for cells in reader:
        n = len(cells)
        if n == 0:
            continue
        out = PyTuple_New(count)
        for k in range(count):
            i = where[k]
            value = cells[i] if i < n and i < width else None
            Py_INCREF(value)
            PyTuple_SET_ITEM(out, k, value)
        yield reader.line_num, out
