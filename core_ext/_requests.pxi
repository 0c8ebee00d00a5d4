# A request's fields checked and normalised into a Req: the fast path for plain input, the
# shared validator (core_ext._request.parse_item) for everything else.

cdef inline bint check_digit_ok(const char* s, Py_ssize_t n) nogil:
    cdef int total = 0, weight = 2, product
    cdef Py_ssize_t i
    for i in range(n - 2, -1, -1):
        product = (s[i] - 48) * weight
        total += product // 10 + product % 10
        weight = 3 - weight
    return (10 - total % 10) % 10 == s[n - 1] - 48


cdef inline bint plain_ascii(const char* s, Py_ssize_t n) nogil:
    """Printable ASCII without spaces: NFKC, white-space removal and dash mapping leave it as is."""
    cdef Py_ssize_t i
    for i in range(n):
        if s[i] <= 32 or s[i] >= 127:
            return False
    return True

cdef bint parse_fast(Core self, dict req, int today, int default_day, Req* r):
    """Parse a plain well-formed decoded request; False sends it to the shared validator."""
    cdef Raw raw
    cdef Py_ssize_t k
    memset(&raw, 0, sizeof(Raw))
    for k in range(NFIELDS):
        if k == F_CONSENT:
            v = req.get("consent")
            if v is None:
                continue
            if type(v) is not dict:
                return False
            v = (<dict>v).get("limit_info")
        else:
            v = req.get(FIELD_NAMES[k])
        if v is None:
            continue
        if type(v) is str:
            raw.s[k] = PyUnicode_AsUTF8AndSize(v, &raw.n[k])
            raw.kind[k] = K_STRING
        elif v is True:
            raw.kind[k] = K_TRUE
        elif v is False:
            raw.kind[k] = K_FALSE
        else:
            return False
    return check_raw(self, &raw, today, default_day, r)

cdef bint check_raw(Core self, const Raw* raw, int today, int default_day, Req* r):
    """The common well-formed request, from its raw field values; False: the shared validator
    decides (and words any error).  Strings stay owned by the caller (dict or body)."""
    cdef const char* s
    cdef Py_ssize_t n, i
    cdef int bit
    cdef int32_t number
    if not is_string(raw, F_PRESENTED):
        return False
    r.presented = presented_code(raw.s[F_PRESENTED], raw.n[F_PRESENTED])
    if r.presented < 0:
        return False
    if raw.kind[F_DATE] == K_ABSENT:
        r.day = default_day
    elif is_string(raw, F_DATE):
        r.day = parse_day_ascii(raw.s[F_DATE], raw.n[F_DATE])
        if r.day < FIRST_DAY or r.day > today + DAYS_AHEAD:
            return False
    else:
        return False
    bit = flag(raw, F_PROXY)
    if bit < 0:
        return False
    r.proxy = bit
    bit = flag(raw, F_CONSENT)
    if bit < 0:
        return False
    r.limit_consent = bit
    if r.presented == MYNA_CARD:
        if not is_string(raw, F_SERIAL):
            return False
        s, n = raw.s[F_SERIAL], raw.n[F_SERIAL]
        if n < 1 or n > 32:
            return False
        for i in range(n):
            if b'0' <= s[i] <= b'9' or b'A' <= s[i] <= b'F':
                r.serial[i] = s[i]
            elif b'a' <= s[i] <= b'f':
                r.serial[i] = s[i] - 32
            else:
                return False
        r.serial_len = n
        if not is_string(raw, F_AUTH):
            return False
        r.auth_method = auth_code(raw.s[F_AUTH], raw.n[F_AUTH])
        return r.auth_method >= 0
    r.identity_verified = False
    if r.presented == INFO_NOTICE:
        bit = flag(raw, F_IDENTITY)
        if bit < 0:
            return False
        r.identity_verified = bit
    if not is_string(raw, F_INSURER):
        return False
    s, n = raw.s[F_INSURER], raw.n[F_INSURER]
    if n != 6 and n != 8:
        return False
    number = 0
    for i in range(n):
        if not (b'0' <= s[i] <= b'9'):
            return False
        number = number * 10 + (s[i] - 48)
    if n == 8 and s[0] == b'0' and s[1] == b'0':
        s += 2
        n = 6
    if not check_digit_ok(s, n):
        return False
    r.insurer = insurer_of(self, number)  # "00" + 6 digits has the 6 digits' value
    if raw.kind[F_SYMBOL] == K_ABSENT:
        r.symbol = b""
        r.symbol_len = 0
    elif is_string(raw, F_SYMBOL):
        r.symbol, r.symbol_len = raw.s[F_SYMBOL], raw.n[F_SYMBOL]
        if not plain_ascii(r.symbol, r.symbol_len):
            if not code_form(self, &r.symbol, &r.symbol_len, True):
                return False
        elif r.symbol_len > 20:
            return False
    else:
        return False
    if not is_string(raw, F_NUMBER):
        return False
    r.number, r.number_len = raw.s[F_NUMBER], raw.n[F_NUMBER]
    if not plain_ascii(r.number, r.number_len):
        if not code_form(self, &r.number, &r.number_len, False):
            return False
    elif r.number_len < 1 or r.number_len > 20:
        return False
    if raw.kind[F_BRANCH] == K_ABSENT:
        r.branch = -1
    elif is_string(raw, F_BRANCH):
        s, n = raw.s[F_BRANCH], raw.n[F_BRANCH]
        if n == 0:
            r.branch = -1
        elif n == 2 and b'0' <= s[0] <= b'9' and b'0' <= s[1] <= b'9':
            r.branch = (s[0] - 48) * 10 + (s[1] - 48)
        else:
            return False
    else:
        return False
    if not is_string(raw, F_BIRTH):
        return False
    r.birthdate = parse_day_ascii(raw.s[F_BIRTH], raw.n[F_BIRTH])
    return r.birthdate >= 0

cdef bint code_form(Core self, const char** s, Py_ssize_t* n, bint symbol) except -1:
    """A symbol or number that is not plain ASCII (a kanji symbol such as 建, full-width
    digits): its canonical form, by the shared normaliser, memoised by the raw bytes.

    The bytes in *s become the canonical UTF-8, owned by the memo (entries are never
    removed while this core lives).  False: invalid UTF-8 or a value the normaliser
    refuses; the shared validator then answers and words the error.  The memo stops
    growing at CODE_FORMS_MAX entries, and holds only inputs of up to CODE_FORM_BYTES, so
    odd inputs cannot exhaust memory (a longer one is left to the shared validator)."""
    if n[0] > CODE_FORM_BYTES:
        return False
    forms = self._symbol_forms if symbol else self._number_forms
    key = PyBytes_FromStringAndSize(s[0], n[0])
    form = forms.get(key)
    if form is None:
        try:
            text = (<bytes>key).decode("utf-8")
        except UnicodeDecodeError:
            form = False
        else:
            value, _error = normalise_symbol(text) if symbol else normalise_number(text)
            form = False if value is None else (<str>value).encode("utf-8")
        if len(forms) < CODE_FORMS_MAX:
            forms[key] = form
        elif form is not False:
            return False  # not memoised, so nothing would keep the bytes alive
    if form is False:
        return False
    s[0] = PyBytes_AS_STRING(form)
    n[0] = PyBytes_GET_SIZE(form)
    return True

cdef object parse_request(Core self, object req, int today, int default_day, Req* r, list errors):
    """Fill `r`; return the object that keeps its strings alive, or None on errors."""
    cdef Py_ssize_t n, i
    if type(req) is dict and parse_fast(self, <dict>req, today, default_day, r):
        return req
    p = parse_item(req, today, default_day, errors)
    if p is None:
        return None
    r.presented = p.presented
    r.day = p.day
    r.proxy = p.proxy
    r.limit_consent = p.limit_consent
    r.auth_method = p.auth_method
    r.identity_verified = p.identity_verified
    r.branch = p.branch
    r.birthdate = p.birthdate
    if p.presented == MYNA_CARD:
        serial = p.serial.encode("ascii")
        n = len(serial)
        for i in range(n):
            r.serial[i] = (<bytes>serial)[i]
        r.serial_len = n
    else:
        v = self.insurer_index.get(p.insurer_number)
        r.insurer = -1 if v is None else v
        r.symbol = PyUnicode_AsUTF8AndSize(p.symbol, &r.symbol_len)
        r.number = PyUnicode_AsUTF8AndSize(p.number, &r.number_len)
    return p


cdef bint same_institution(str institution, const char* code) except -1:
    """Whether the caller's institution (its API key's) is the body's 10-digit code."""
    cdef Py_ssize_t n
    cdef const char* mine = PyUnicode_AsUTF8AndSize(institution, &n)
    return n == 10 and memcmp(mine, code, 10) == 0


cdef Req* new_requests(Py_ssize_t count) except NULL:
    """A zeroed array of `count` requests (at least one), freed by the caller."""
    cdef Req* reqs = <Req*>calloc(count + 1, sizeof(Req))
    if reqs == NULL:
        raise MemoryError()
    return reqs
