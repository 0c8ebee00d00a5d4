"""The pure-Python core: the readable specification of RULES.md §4 and the test oracle.

Same API and answers as the compiled `_core`.  `Core(data)` wraps one snapshot;
`confirm` and `confirm_batch` take the raw request body and the `snapshot` object
already encoded as JSON, and return `(http_status, answer JSON bytes)`; the
compiled core writes those bytes directly, this twin builds dicts and dumps them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ._answers import INSTITUTION_MISMATCH, MALFORMED_JSON, MAX_BATCH_ITEMS, TOO_MANY_ITEMS
from ._build import (
    EVENT_BASE,
    EVENT_MAX,
    SnapshotData,
    home_slot,
    id_at,
    pack_serial,
    slot_tag,
    text_at,
)
from ._codes import (
    AMBIGUOUS,
    AUTH_PIN,
    CERTIFICATE_GRACE_PERIOD,
    CERTIFICATE_INVALID,
    CERTIFICATE_UNKNOWN,
    DOCUMENT_EXPIRED,
    DOCUMENT_EXPIRES_SOON,
    DOCUMENT_NOT_ISSUED,
    EXPIRES_SOON_DAYS,
    FACE_AUTH_REQUIRED,
    INFO_NOTICE,
    INFO_NOTICE_ALONE,
    LOST,
    MYNA_CARD,
    NO_VALID_QUALIFICATION,
    NOT_FOUND,
    NOT_REGISTERED,
    NOT_YET_EFFECTIVE,
    OUTCOMES,
    PROXY_NOT_ALLOWED,
    SNAPSHOT_STALE,
    SUPERSEDED,
    UNSPECIFIED,
    VALID,
    VALID_MULTIPLE,
    copay_percent,
)
from ._logline import MISS_PERSONS, access_line
from ._request import Parsed, check_batch, check_institution_code, json_object, parse_item, validation_error
from ._text import (
    NO_END,
    certificate_grace_end,
    elderly_first_day,
    fnv1a,
    format_day,
    key_hash,
    preschool_last_day,
)


class Core:
    """Decisions over one immutable snapshot."""

    def __init__(
        self,
        data: SnapshotData,
        overlay: Core | None = None,
        dirty_keys: Iterable[tuple[int, bytes, bytes]] = (),
        dirty_serials: Iterable[bytes] = (),
    ) -> None:
        """`overlay` answers for the keys (insurer index, symbol, number as UTF-8) and the
        certificate serials (ASCII) in `dirty_keys` / `dirty_serials`: the persons
        changed since `data` was built, with every row their answers depend on."""
        self.data = data
        self.overlay = overlay
        self.dirty_keys = set(dirty_keys)
        self.dirty_serials = set(dirty_serials)
        self.code_counts = [0] * len(OUTCOMES)

    def carry_counts(self, previous: Core) -> None:
        """Continue the decision counts of the core this one replaces (metrics are counters)."""
        self.code_counts = [a + b for a, b in zip(self.code_counts, previous.code_counts, strict=True)]

    def _route(self, r: Parsed) -> Core:
        """The overlay for a key or serial touched since this snapshot was built, else self."""
        if self.overlay is None:
            return self
        if r.presented == MYNA_CARD:
            return self.overlay if r.serial.encode() in self.dirty_serials else self
        insurer = self.data.insurer_index.get(r.insurer_number)
        if insurer is not None and (insurer, r.symbol.encode(), r.number.encode()) in self.dirty_keys:
            return self.overlay
        return self

    # ----------------------------------------------------------------- lookups

    def _text(self, offsets: Any, i: int) -> str:
        return text_at(self.data.arena, offsets[i]).decode()

    def _raw(self, offsets: Any, i: int) -> bytes:
        return text_at(self.data.arena, offsets[i])

    def key_group(self, insurer: int, symbol: str, number: str) -> list[int] | None:
        """The qualification rows under (insurer, symbol, number), or None."""
        d = self.data
        sym, num = symbol.encode(), number.encode()
        h = key_hash(insurer, sym, num)
        tag = slot_tag(h)
        size = len(d.key_slots)
        i = home_slot(h, size)
        while (q := d.key_slots[i]) != -1:  # the first row of a key
            if (
                d.key_slot_tag[i] == tag
                and d.q_insurer[q] == insurer
                and self._raw(d.q_symbol, q) == sym
                and self._raw(d.q_number, q) == num
            ):
                rows = []
                while q != -1:
                    rows.append(q)
                    q = d.key_next[q]
                return rows
            i = i + 1 if i + 1 < size else 0
        return None

    def certificate(self, serial: str) -> int:
        """Index of the certificate with this canonical serial, or -1."""
        d = self.data
        h = fnv1a(serial.encode())
        packed = pack_serial(serial)
        tag = slot_tag(h)
        size = len(d.cert_slots)
        i = home_slot(h, size)
        while (c := d.cert_slots[i]) != -1:
            if d.cert_slot_tag[i] == tag and self._raw(d.c_serial, c) == packed:
                return c
            i = i + 1 if i + 1 < size else 0
        return -1

    def _in_force(self, q: int, day: int) -> bool:
        return self.data.q_acquired[q] <= day < self.data.q_lost[q]

    def _registered(self, p: int, day: int) -> bool:
        rel = day - EVENT_BASE  # registrations are stored as event days
        return self.data.p_reg_from[p] <= rel <= self.data.p_reg_last[p]

    # --------------------------------------------------------------- decisions

    def _card_path(self, r: Parsed, warnings: list[str]) -> tuple[int, int, list[int], int]:
        """RULES.md §4.1: (code, qualification or -1, alternatives, person looked up or -1)."""
        d = self.data
        day = r.day
        if r.proxy:
            return PROXY_NOT_ALLOWED, -1, [], -1
        c = self.certificate(r.serial)
        if c < 0:
            return CERTIFICATE_UNKNOWN, -1, [], -1
        p = d.c_person[c]
        rel = day - EVENT_BASE  # certificate dates are stored as event days
        expires = d.c_expires[c]
        grace_end = (
            EVENT_MAX if expires == EVENT_MAX else certificate_grace_end(expires + EVENT_BASE) - EVENT_BASE
        )
        if rel < d.c_issued[c] or d.c_revoked[c] <= rel or rel > grace_end:
            return CERTIFICATE_INVALID, -1, [], p
        if rel > expires:
            warnings.append(CERTIFICATE_GRACE_PERIOD)
        if d.c_face_only[c] and r.auth_method == AUTH_PIN:
            return FACE_AUTH_REQUIRED, -1, [], p
        if not self._registered(p, day):
            return NOT_REGISTERED, -1, [], p
        rows = range(d.p_qual[p], d.p_qual[p + 1])  # sorted by (acquired_on, id)
        in_force = [q for q in reversed(rows) if self._in_force(q, day)]
        if not in_force:
            started = [q for q in reversed(rows) if d.q_acquired[q] <= day]
            return NO_VALID_QUALIFICATION, (started[0] if started else -1), [], p
        if len(in_force) == 1:
            return VALID, in_force[0], [], p
        return VALID_MULTIPLE, in_force[0], in_force[1:], p

    def _number_path(self, r: Parsed, warnings: list[str]) -> tuple[int, int, list[int], int]:
        """RULES.md §4.2: (code, qualification or -1, alternatives, person looked up or -1)."""
        d = self.data
        day = r.day
        if r.presented == INFO_NOTICE:
            if r.proxy:
                return PROXY_NOT_ALLOWED, -1, [], -1
            if not r.identity_verified:
                return INFO_NOTICE_ALONE, -1, [], -1
        insurer = d.insurer_index.get(r.insurer_number)
        group = None if insurer is None else self.key_group(insurer, r.symbol, r.number)
        if group is None:
            return NOT_FOUND, -1, [], -1
        matches = [
            q
            for q in group
            if d.p_birth[d.q_person[q]] == r.birthdate and (r.branch < 0 or d.q_branch[q] == r.branch)
        ]
        if not matches:
            return NOT_FOUND, -1, [], -1
        if len({d.q_person[q] for q in matches}) > 1:
            return AMBIGUOUS, -1, [], -1
        # One person: row order within a person is (acquired_on, id), so max() is "latest".
        in_force = [q for q in matches if self._in_force(q, day)]
        started = [q for q in matches if d.q_acquired[q] <= day]
        q = max(in_force) if in_force else max(started) if started else min(matches)
        p = d.q_person[q]
        if day < d.q_acquired[q]:
            return NOT_YET_EFFECTIVE, q, [], p
        if day >= d.q_lost[q]:
            others = range(d.p_qual[p], d.p_qual[p + 1])
            superseded = any(o != q and self._in_force(o, day) for o in others)
            return (SUPERSEDED if superseded else LOST), q, [], p
        if r.presented == INFO_NOTICE:
            if not self._registered(p, day):
                return NOT_REGISTERED, -1, [], p
        elif r.presented != UNSPECIFIED:
            docs = range(d.q_doc[q], d.q_doc[q + 1])
            rel = day - EVENT_BASE  # document dates are stored as event days
            issued = [k for k in docs if d.d_kind[k] == r.presented and d.d_issued[k] <= rel]
            if not issued:
                return DOCUMENT_NOT_ISSUED, q, [], p
            valid_ends = [d.d_until[k] for k in issued if rel <= d.d_until[k] and rel < d.d_void[k]]
            if not valid_ends:
                return DOCUMENT_EXPIRED, q, [], p
            if max(valid_ends) - rel <= EXPIRES_SOON_DAYS:
                warnings.append(DOCUMENT_EXPIRES_SOON)
        return VALID, q, [], p

    def _mismatched_persons(self, r: Parsed) -> list[int]:
        """The persons under a missed key and branch (core_ext._logline: a birthdate mismatch)."""
        d = self.data
        insurer = d.insurer_index.get(r.insurer_number)
        group = None if insurer is None else self.key_group(insurer, r.symbol, r.number)
        persons: list[int] = []
        for q in group or ():
            if len(persons) == MISS_PERSONS:
                break
            if (r.branch < 0 or d.q_branch[q] == r.branch) and d.q_person[q] not in persons:
                persons.append(d.q_person[q])
        return sorted(persons)

    # ----------------------------------------------------------------- answers

    def _person(self, p: int) -> dict[str, Any]:
        d = self.data
        return {
            "name": self._text(d.p_name, p),
            "name_kana": self._text(d.p_kana, p) if d.p_kana[p] >= 0 else None,
            "sex": d.p_sex[p],
            "birthdate": format_day(d.p_birth[p]),
        }

    def _qualification(self, q: int, day: int, limit_consent: bool) -> dict[str, Any]:
        d = self.data
        p = d.q_person[q]
        ins = d.q_insurer[q]
        late = bool(d.insurer_late[ins])
        birth = d.p_birth[p]
        elderly = not late and day >= elderly_first_day(birth)
        preschool = day <= preschool_last_day(birth)
        branch = d.q_branch[q]
        answer: dict[str, Any] = {
            "qualification_id": id_at(d.q_id, d.q_id_big, q),
            "insurer_number": d.insurer_numbers[ins],
            "insurer_name": d.insurer_names[ins],
            "symbol": self._text(d.q_symbol, q),
            "number": self._text(d.q_number, q),
            "branch": None if branch < 0 else f"{branch:02d}",
            "relationship": d.q_relationship[q],
            "acquired_on": format_day(d.q_acquired[q]),
            "lost_on": None if d.q_lost[q] == NO_END else format_day(d.q_lost[q]),
            "copay_percent": copay_percent(late, elderly, preschool, d.q_income[q]),
            "preschool": preschool,
            "elderly_recipient": elderly,
            "late_elderly": late,
        }
        if limit_consent:
            limit = d.q_limit[q]
            answer["limit_category"] = None if limit < 0 else d.limit_names[limit]
        return answer

    def _result(
        self,
        r: Parsed,
        checked_at: str,
        stale: bool,
        log: bytearray | None,
        institution: str,
        request_id: str,
    ) -> dict[str, Any]:
        warnings: list[str] = []
        core = self._route(r)
        if r.presented == MYNA_CARD:
            code, q, alternatives, p = core._card_path(r, warnings)
        else:
            code, q, alternatives, p = core._number_path(r, warnings)
        if stale:
            warnings.append(SNAPSHOT_STALE)
        self.code_counts[code] += 1
        if log is not None:
            d = core.data
            qualification_id = id_at(d.q_id, d.q_id_big, q) if q >= 0 else None
            if code == NOT_FOUND and r.presented != MYNA_CARD:
                persons = core._mismatched_persons(r) or [-1]
            else:
                persons = [p]
            for looked_up in persons:
                person_id = id_at(d.p_id, d.p_id_big, looked_up) if looked_up >= 0 else None
                log += access_line(
                    checked_at, institution, r.presented, code, request_id, person_id, qualification_id
                )
        outcome = OUTCOMES[code]
        person = qualification = None
        alt_answers: list[dict[str, Any]] = []
        if outcome.discloses and q >= 0:
            person = core._person(core.data.q_person[q])
            qualification = core._qualification(q, r.day, r.limit_consent)
            alt_answers = [core._qualification(a, r.day, r.limit_consent) for a in alternatives]
        return {
            "checked_at": checked_at,
            "confirmation_date": format_day(r.day),
            "eligible": outcome.eligible,
            "code": outcome.name,
            "validity": outcome.validity,
            "message": outcome.message,
            "warnings": warnings,
            "person": person,
            "qualification": qualification,
            "alternatives": alt_answers,
        }

    # ------------------------------------------------------------ entry points

    def confirm(
        self,
        body: bytes,
        institution: str,
        today: int,
        request_id: str,
        checked_at: str,
        snapshot: bytes,
        stale: bool = False,
        log: bytearray | None = None,
    ) -> tuple[int, bytes]:
        """Answer POST /v1/confirmations from the raw body: (HTTP status, answer JSON)."""
        req = json_object(body)
        if req is None:
            return 400, MALFORMED_JSON
        errors: list[dict[str, str]] = []
        check_institution_code(req.get("institution_code"), errors)
        parsed = parse_item(req, today, today, errors)
        if parsed is None:
            return 422, orjson.dumps(validation_error(errors))
        if req["institution_code"] != institution:
            return 403, INSTITUTION_MISMATCH
        answer: dict[str, Any] = {"request_id": request_id}
        answer.update(self._result(parsed, checked_at, stale, log, institution, request_id))
        answer["snapshot"] = orjson.Fragment(snapshot)
        return 200, orjson.dumps(answer)

    def confirm_batch(
        self,
        body: bytes,
        institution: str,
        today: int,
        request_id: str,
        checked_at: str,
        snapshot: bytes,
        stale: bool = False,
        log: bytearray | None = None,
    ) -> tuple[int, bytes]:
        """Answer POST /v1/confirmations/batch from the raw body: (HTTP status, answer JSON)."""
        req = json_object(body)
        if req is None:
            return 400, MALFORMED_JSON
        items = req.get("items")
        if type(items) is list and len(items) > MAX_BATCH_ITEMS:
            return 413, TOO_MANY_ITEMS
        errors: list[dict[str, str]] = []
        default_day = check_batch(req, today, errors)
        if errors:
            return 422, orjson.dumps(validation_error(errors))
        if req["institution_code"] != institution:
            return 403, INSTITUTION_MISMATCH
        results = []
        for item in items or ():
            item_errors: list[dict[str, str]] = []
            parsed = parse_item(item, today, default_day, item_errors)
            if parsed is None:
                results.append(validation_error(item_errors))
            else:
                results.append(self._result(parsed, checked_at, stale, log, institution, request_id))
        return 200, orjson.dumps(
            {
                "request_id": request_id,
                "checked_at": checked_at,
                "results": results,
                "snapshot": orjson.Fragment(snapshot),
            }
        )
