# The decisions of RULES.md: the card path and the number path over one snapshot.

cdef Decision card_path(Core self, const Req* r):
    cdef Decision out
    cdef int day = r.day, c, p, q
    cdef const CRow* cert
    out.qual = -1
    out.person = -1
    out.warnings = 0
    if r.proxy:
        out.code = PROXY_NOT_ALLOWED
        return out
    c = find_certificate(self, r)
    if c < 0:
        out.code = CERTIFICATE_UNKNOWN
        return out
    cert = &self.crows[c]
    p = cert.person
    out.person = p
    cdef int rel = day - EVENT_BASE  # certificate dates are stored as event days
    cdef int expires = cert.expires
    cdef int grace_end = EVENT_MAX if expires == EVENT_MAX else (
        certificate_grace_end(expires + EVENT_BASE) - EVENT_BASE)
    if rel < cert.issued or cert.revoked <= rel or rel > grace_end:
        out.code = CERTIFICATE_INVALID
        return out
    if rel > expires:
        out.warnings |= W_GRACE
    if cert.face_only and r.auth_method == AUTH_PIN:
        out.code = FACE_AUTH_REQUIRED
        return out
    if not registered(self, p, day):
        out.code = NOT_REGISTERED
        return out
    # Rows are sorted by (acquired_on, id): scanning backwards meets the latest first.
    out.code = NO_VALID_QUALIFICATION
    cdef int first = self.prows[p].qual, end = self.prows[p + 1].qual
    for q in range(end - 1, first - 1, -1):
        if in_force(self, q, day):
            if out.code == VALID:
                out.code = VALID_MULTIPLE
                return out
            if out.code == NO_VALID_QUALIFICATION:
                out.code = VALID
                out.qual = q
    if out.code == NO_VALID_QUALIFICATION:
        for q in range(end - 1, first - 1, -1):
            if self.qrows[q].acquired <= day:
                out.qual = q
                break
    return out

cdef Decision number_path(Core self, const Req* r):
    cdef Decision out
    cdef int day = r.day, k, q, p = -1, chosen_in_force = -1, chosen_started = -1
    cdef int earliest = -1, o, best_end = NO_DOCUMENT, rel, person
    cdef bint issued = False
    cdef const QRow* row
    out.qual = -1
    out.person = -1
    out.warnings = 0
    if r.presented == INFO_NOTICE:
        if r.proxy:
            out.code = PROXY_NOT_ALLOWED
            return out
        if not r.identity_verified:
            out.code = INFO_NOTICE_ALONE
            return out
    out.code = NOT_FOUND
    if r.insurer < 0:
        return out
    k = find_key(self, r)
    while k >= 0:
        q = k
        k = self.key_next[q]  # -1 after the key's last row
        row = &self.qrows[q]
        person = row.person
        if self.prows[person].birth != r.birthdate:
            continue
        if r.branch >= 0 and row.branch != r.branch:
            continue
        if p == -1:
            p = person
        elif p != person:
            out.code = AMBIGUOUS
            return out
        # Within one person, a higher row number is a later (acquired_on, id).
        if row.acquired <= day < row.lost and q > chosen_in_force:
            chosen_in_force = q
        if row.acquired <= day and q > chosen_started:
            chosen_started = q
        if earliest == -1 or q < earliest:
            earliest = q
    if p == -1:
        return out
    q = chosen_in_force if chosen_in_force >= 0 else (
        chosen_started if chosen_started >= 0 else earliest)
    out.qual = q
    out.person = p
    row = &self.qrows[q]
    if day < row.acquired:
        out.code = NOT_YET_EFFECTIVE
        return out
    if day >= row.lost:
        out.code = LOST
        for o in range(self.prows[p].qual, self.prows[p + 1].qual):
            if o != q and in_force(self, o, day):
                out.code = SUPERSEDED
                break
        return out
    if r.presented == INFO_NOTICE:
        if not registered(self, p, day):
            out.code = NOT_REGISTERED
            out.qual = -1
            return out
    elif r.presented != UNSPECIFIED:
        rel = day - EVENT_BASE  # document dates are stored as event days
        for k in range(self.q_doc[q], self.q_doc[q + 1]):
            if self.d_kind[k] == r.presented and self.d_issued[k] <= rel:
                issued = True
                if rel <= self.d_until[k] and rel < self.d_void[k] and self.d_until[k] > best_end:
                    best_end = self.d_until[k]
        if not issued:
            out.code = DOCUMENT_NOT_ISSUED
            return out
        if best_end == NO_DOCUMENT:
            out.code = DOCUMENT_EXPIRED
            return out
        if best_end - rel <= EXPIRES_SOON_DAYS:
            out.warnings |= W_SOON
    out.code = VALID
    return out
