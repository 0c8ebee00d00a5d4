# Answers and access-log lines, written straight into one byte buffer: no dicts, no str
# objects, no serializer pass.  Everything fixed is encoded once (module level or Core.__init__).

cdef int log_head(LogHead* head, str checked_at, str institution, str request_id) except -1:
    """UTF-8 views of the strings every access-log line of one request repeats."""
    head.at = PyUnicode_AsUTF8AndSize(checked_at, &head.at_n)
    head.institution = PyUnicode_AsUTF8AndSize(institution, &head.institution_n)
    head.request_id = PyUnicode_AsUTF8AndSize(request_id, &head.request_id_n)
    return 0


cdef int put_text(Core self, Buf* b, int32_t offset) except -1:
    cdef Py_ssize_t n
    cdef const unsigned char* text = text_at(self.arena, offset, &n)
    put_json_string(b, <const char*>text, n)
    return 0

cdef int put_person(Core self, Buf* b, int q) except -1:
    """The person block of the person qualification q belongs to."""
    cdef const PRow* person = &self.prows[self.qrows[q].person]
    put(b, b'{"name":', 8)
    put_text(self, b, person.name)
    put(b, b',"name_kana":', 13)
    if person.kana >= 0:
        put_text(self, b, person.kana)
    else:
        put(b, b"null", 4)
    put(b, b',"sex":', 7)
    put_int(b, self.qrows[q].sex)
    put(b, b',"birthdate":', 13)
    put_day(b, person.birth)
    put(b, b"}", 1)
    return 0

# 一部負担金割合 for every (late elderly, elderly recipient, preschool, income class), filled
# from core_ext._codes.copay_percent at import: the rule has one home.
cdef int COPAY[2][2][2][INCOME_COUNT]
for _late in range(2):
    for _elderly in range(2):
        for _preschool in range(2):
            for _income in range(INCOME_COUNT):
                COPAY[_late][_elderly][_preschool][_income] = copay_percent(
                    bool(_late), bool(_elderly), bool(_preschool), _income)


cdef int put_qualification(Core self, Buf* b, int q, int day, bint limit_consent) except -1:
    cdef const QRow* row = &self.qrows[q]
    cdef int ins = row.insurer, branch = row.branch
    cdef int income = row.income, copay, limit
    cdef bint late = self.insurer_late[ins]
    cdef int birth = self.prows[row.person].birth
    cdef bint elderly = not late and day >= elderly_first_day(birth)
    cdef bint preschool = day <= preschool_last_day(birth)
    copay = COPAY[late][elderly][preschool][income]
    put(b, b'{"qualification_id":', 20)
    if row.id != BIG_ID:
        put_int(b, row.id)
    else:
        put_int(b, self.q_id_big[q])
    put_bytes(b, self.insurer_json[ins])  # ,"insurer_number":…,"insurer_name":…
    put(b, b',"symbol":', 10)
    put_text(self, b, row.symbol)
    put(b, b',"number":', 10)
    put_text(self, b, row.number)
    if branch < 0:
        put(b, b',"branch":null', 14)
    else:
        put(b, b',"branch":"', 11)
        put_digits2(b, branch)
        put(b, b'"', 1)
    put(b, b',"relationship":', 16)
    put_int(b, row.relationship)
    put(b, b',"acquired_on":', 15)
    put_day(b, row.acquired)
    put(b, b',"lost_on":', 11)
    if row.lost == NO_END:
        put(b, b"null", 4)
    else:
        put_day(b, row.lost)
    put(b, b',"copay_percent":', 17)
    put_int(b, copay)
    put(b, b',"preschool":', 13)
    put_bool(b, preschool)
    put(b, b',"elderly_recipient":', 21)
    put_bool(b, elderly)
    put(b, b',"late_elderly":', 16)
    put_bool(b, late)
    if limit_consent:
        limit = row.limit
        put(b, b',"limit_category":', 18)
        if limit < 0:
            put(b, b"null", 4)
        else:
            put_bytes(b, self.limit_json[limit])
    put(b, b"}", 1)
    return 0

cdef int log_line(
    Core self, bytearray log, const LogHead* head, int presented, int code, int p, int q
) except -1:
    """Append this decision's access-log line (core_ext._logline.access_line) to `log`:
    sized for the longest line, written in place, then cut to what was written."""
    cdef bytes pres = <bytes>LOG_PRESENTED[presented]
    cdef bytes name = <bytes>LOG_CODE[code]
    cdef Py_ssize_t start = PyByteArray_GET_SIZE(log)
    cdef Py_ssize_t most = (head.at_n + head.institution_n + head.request_id_n
                            + PyBytes_GET_SIZE(pres) + PyBytes_GET_SIZE(name) + 2 * 24 + 8)
    if PyByteArray_Resize(log, start + most) < 0:
        return -1
    cdef char* base = PyByteArray_AS_STRING(log)
    cdef char* w = write_text(base + start, head.at, head.at_n)
    w[0] = b','
    w = write_text(w + 1, head.institution, head.institution_n)
    w[0] = b','
    w = write_text(w + 1, PyBytes_AS_STRING(pres), PyBytes_GET_SIZE(pres))
    w = write_text(w, PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name))
    w = write_text(w, head.request_id, head.request_id_n)
    w[0] = b','
    w += 1
    if p >= 0:
        w = write_int(w, self.prows[p].id if self.prows[p].id != BIG_ID else <long long>self.p_id_big[p])
    w[0] = b','
    w += 1
    if q >= 0:
        w = write_int(w, self.qrows[q].id if self.qrows[q].id != BIG_ID else <long long>self.q_id_big[q])
    w[0] = b'\n'
    return PyByteArray_Resize(log, w + 1 - base)

cdef int log_misses(Core self, bytearray log, const LogHead* head, const Req* r) except -1:
    """A number-path NOT_FOUND's lines (core_ext._logline): one per person under the key
    and branch, whose birthdate did not match, or one naming nobody when there is no key."""
    cdef int persons[MISS_PERSONS]
    cdef int n = 0, k, i, j, p
    k = find_key(self, r) if r.insurer >= 0 else -1
    while k >= 0 and n < MISS_PERSONS:
        if r.branch < 0 or self.qrows[k].branch == r.branch:
            p = self.qrows[k].person
            i = n  # insertion sort: the persons in order, each once
            while i > 0 and persons[i - 1] > p:
                i -= 1
            if i == 0 or persons[i - 1] != p:
                for j in range(n, i, -1):
                    persons[j] = persons[j - 1]
                persons[i] = p
                n += 1
        k = self.key_next[k]
    if n == 0:
        return log_line(self, log, head, r.presented, NOT_FOUND, -1, -1)
    for i in range(n):
        log_line(self, log, head, r.presented, NOT_FOUND, persons[i], -1)
    return 0

cdef int put_result(Core self, Buf* b, const Req* r, bytes checked_at, bint stale,
                    bytearray log, const LogHead* head) except -1:
    """The fields of one result, from "checked_at" to "alternatives", without braces."""
    cdef Decision dec
    cdef int q, p
    cdef bint first = True
    cdef Core core = route(self, r)
    if r.presented == MYNA_CARD:
        dec = card_path(core, r)
    else:
        dec = number_path(core, r)
    self.counts[dec.code] += 1
    if log is not None:
        if dec.code == NOT_FOUND and r.presented != MYNA_CARD:
            log_misses(core, log, head, r)
        else:
            log_line(core, log, head, r.presented, dec.code, dec.person, dec.qual)
    put(b, b'"checked_at":', 13)
    put_bytes(b, checked_at)
    put(b, b',"confirmation_date":', 21)
    put_day(b, r.day)
    put_bytes(b, <bytes>CODE_JSON[dec.code])  # ,"eligible":…,"message":…
    put(b, b',"warnings":[', 13)
    if dec.warnings & W_GRACE:
        put(b, b'"CERTIFICATE_GRACE_PERIOD"', 26)
        first = False
    if dec.warnings & W_SOON:
        if not first:
            put(b, b",", 1)
        put(b, b'"DOCUMENT_EXPIRES_SOON"', 23)
        first = False
    if stale:
        if not first:
            put(b, b",", 1)
        put(b, b'"SNAPSHOT_STALE"', 16)
    if not (CODE_DISCLOSES[dec.code] and dec.qual >= 0):
        put(b, b'],"person":null,"qualification":null,"alternatives":[]', 54)
        return 0
    p = core.qrows[dec.qual].person
    put(b, b'],"person":', 11)
    put_person(core, b, dec.qual)
    put(b, b',"qualification":', 17)
    put_qualification(core, b, dec.qual, r.day, r.limit_consent)
    put(b, b',"alternatives":[', 17)
    if dec.code == VALID_MULTIPLE:
        # The person's other qualifications in force, latest first.
        first = True
        for q in range(dec.qual - 1, core.prows[p].qual - 1, -1):
            if in_force(core, q, r.day):
                if not first:
                    put(b, b",", 1)
                put_qualification(core, b, q, r.day, r.limit_consent)
                first = False
    put(b, b"]", 1)
    return 0

cdef int put_batch_head(Core self, Buf* b, str request_id, str checked_at) except -1:
    cdef Py_ssize_t n
    cdef const char* s = PyUnicode_AsUTF8AndSize(request_id, &n)
    put(b, b'{"request_id":', 14)
    put_json_string(b, s, n)
    put(b, b',"checked_at":', 14)
    put_bytes(b, checked_at_json(self, checked_at))
    put(b, b',"results":[', 12)
    return 0

cdef bytes checked_at_json(Core self, str checked_at):
    """checked_at as JSON; it changes once a millisecond, not once a request."""
    if checked_at is not self._last_checked_at:
        self._last_checked_at = checked_at
        self._last_checked_at_json = orjson.dumps(checked_at)
    return self._last_checked_at_json
