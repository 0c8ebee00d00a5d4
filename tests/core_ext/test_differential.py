"""Hypothesis: the compiled core and its twin give the same answers to everything.

Populations, keys, dates and whole request bodies are random; the profile is
derandomized (fixed seed), and a failure prints the reproduction blob.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import core_ext
from core_ext import _text
from core_ext._build import (
    CertificateRow,
    DocumentRow,
    InsurerRow,
    PersonRow,
    QualificationRow,
    RegistrationRow,
    Tables,
)
from core_ext._codes import OUTCOMES
from tests.population import INSTITUTION, KENPO, KOKUHO, KOUKI, day
from tests.strategies import JSON_VALUES, REQUEST_FIELDS

pytestmark = pytest.mark.compiled

INSURERS = [KENPO, KOKUHO, KOUKI]
DAY0 = day("2024-01-01")
SYMBOLS = ["", "1", "7-10", "北浜"]
NUMBERS = ["1", "2", "01"]

days = st.integers(DAY0 - 400, DAY0 + 900)
maybe_day = st.none() | days


@st.composite
def populations(draw: st.DrawFn) -> Tables:
    t = Tables(insurers=[InsurerRow(n, "保険者", draw(maybe_day)) for n in INSURERS])
    persons = draw(st.integers(1, 6))
    births = [
        DAY0 - draw(st.sampled_from([3, 6, 69, 70, 74, 75, 40])) * 365 - draw(st.integers(0, 400))
        for _ in range(persons)
    ]
    shared_birth = draw(st.booleans())
    for pid in range(1, persons + 1):
        birth = births[0] if shared_birth else births[pid - 1]
        t.persons.append(PersonRow(pid, f"人{pid}", None if pid % 3 == 0 else "ヒト", 1 + pid % 3, birth))
    qid = did = 0
    for pid in range(1, persons + 1):
        for _ in range(draw(st.integers(0, 3))):
            qid += 1
            acquired = draw(days)
            lost = draw(st.none() | st.integers(acquired, acquired + 700))
            t.qualifications.append(
                QualificationRow(
                    qid,
                    pid,
                    draw(st.sampled_from(INSURERS)),
                    draw(st.sampled_from(SYMBOLS)),
                    draw(st.sampled_from(NUMBERS)),
                    draw(st.sampled_from([-1, 0, 1])),
                    1 + pid % 2,
                    acquired,
                    lost,
                    draw(st.integers(0, 2)),
                    draw(st.sampled_from([None, "A01", "B08"])),
                )
            )
            for kind in draw(st.lists(st.sampled_from([1, 2, 3]), max_size=3)):
                did += 1
                issued = draw(days)
                t.documents.append(DocumentRow(did, qid, kind, issued, draw(maybe_day), draw(maybe_day)))
        if draw(st.booleans()):
            issued = draw(days)
            t.certificates.append(
                CertificateRow(
                    f"C{pid:X}",
                    pid,
                    issued,
                    issued + draw(st.integers(0, 900)),
                    draw(maybe_day),
                    draw(st.booleans()),
                )
            )
        if draw(st.booleans()):
            t.registrations.append(RegistrationRow(pid, draw(days), draw(maybe_day)))
    return t


def requests(tables: Tables) -> st.SearchStrategy[dict[str, Any]]:
    persons = len(tables.persons)
    events = sorted(
        {
            e
            for row in (
                *tables.qualifications,
                *tables.documents,
                *tables.certificates,
                *tables.registrations,
            )
            for e in row
            if isinstance(e, int) and e > 100_000
        }
    )
    near_events = st.tuples(st.sampled_from(events or [DAY0]), st.integers(-2, 2)).map(sum)
    # Boundaries the rules derive from the rows (RULES.md §3-§4), where an off-by-one or a
    # month-length slip shared by neither core would show as a disagreement.
    derived = sorted(
        {
            *(_text.certificate_grace_end(c.expires_on) for c in tables.certificates),
            *(
                _text.registration_last_day(r.deregistration_requested_on)
                for r in tables.registrations
                if r.deregistration_requested_on is not None
            ),
            *(_text.preschool_last_day(p.birthdate) for p in tables.persons),
            *(_text.elderly_first_day(p.birthdate) for p in tables.persons),
            *(i.legacy_card_valid_until for i in tables.insurers if i.legacy_card_valid_until is not None),
            date(2025, 12, 1).toordinal(),  # the default legacy-card cut-off
            *(d.valid_until - 30 for d in tables.documents if d.valid_until is not None),
        }
    )
    boundaries = st.tuples(st.sampled_from(derived), st.integers(-1, 1)).map(sum)
    date_text = (near_events | boundaries | near_events | boundaries | days).map(
        lambda n: date.fromordinal(n).isoformat()
    )
    births = st.sampled_from([date.fromordinal(p.birthdate).isoformat() for p in tables.persons])
    birth_of = {p.person_id: date.fromordinal(p.birthdate).isoformat() for p in tables.persons}
    random_key = st.fixed_dictionaries(
        {
            "insurer_number": st.sampled_from(INSURERS),
            "symbol": st.sampled_from(SYMBOLS),
            "number": st.sampled_from(NUMBERS),
            "birthdate": births | date_text,
        }
    )
    keys = [
        {
            "insurer_number": q.insurer_number,
            "symbol": q.symbol,
            "number": q.number,
            "birthdate": birth_of[q.person_id],
        }
        for q in tables.qualifications
    ]
    existing_key = st.sampled_from(keys) if keys else random_key
    number_path = st.tuples(
        existing_key | existing_key | random_key,
        st.fixed_dictionaries(
            {
                "presented": st.sampled_from(
                    ["legacy_card", "eligibility_certificate", "info_notice", "unspecified"]
                ),
                "confirmation_date": date_text,
            },
            optional={
                "branch": st.sampled_from(["", "00", "01", "02"]),
                "identity_verified": st.booleans(),
                "proxy": st.booleans(),
                "consent": st.fixed_dictionaries({"limit_info": st.booleans()}),
            },
        ),
    ).map(lambda pair: {**pair[0], **pair[1]})
    card_path = st.fixed_dictionaries(
        {
            "presented": st.just("myna_card"),
            "certificate_serial": st.integers(1, persons + 1).map(lambda p: f"c{p:x}"),
            "auth_method": st.sampled_from(["face", "pin", "visual"]),
            "confirmation_date": date_text,
        },
        optional={"proxy": st.booleans(), "consent": st.fixed_dictionaries({"limit_info": st.booleans()})},
    )
    return number_path | card_path


def both(tables: Tables) -> tuple[Any, Any]:
    data = core_ext.snapshot(tables)
    return core_ext.IMPLEMENTATIONS["py"](data), core_ext.IMPLEMENTATIONS["c"](data)


def answers(core: Any, body: bytes, batch: bool = False) -> tuple[int, dict[str, Any], bytearray]:
    """The status, the parsed answer (the cores may escape text differently) and the access-log lines."""
    call = core.confirm_batch if batch else core.confirm
    log = bytearray()
    status, answer = call(body, INSTITUTION, DAY0 + 700, "rid", "at", b'{"version":"v"}', False, log)
    return status, orjson.loads(answer), log


SEEN: Counter[str] = Counter()


@settings(max_examples=150)
@given(st.data())
def test_decisions_agree(data: st.DataObject) -> None:
    tables = data.draw(populations())
    py, c = both(tables)
    for _ in range(15):
        request = {"institution_code": INSTITUTION, **data.draw(requests(tables))}
        body = orjson.dumps(request)
        expected = answers(py, body)
        assert answers(c, body) == expected, request
        SEEN[expected[1].get("code", expected[1].get("error", {}).get("code"))] += 1


# Outcomes that need several coincidences (a registered card holder with nothing in
# force, two qualifications in force, …); one run of 150 examples may miss one or two.
RARE = {"INFO_NOTICE_ALONE", "NO_VALID_QUALIFICATION", "VALID_MULTIPLE", "FACE_AUTH_REQUIRED"}


def test_random_decisions_reached_every_code() -> None:
    """Guard the generator itself: the differential test must meet (nearly) every outcome."""
    if not SEEN:
        pytest.skip("runs after test_decisions_agree")
    missing = {o.name for o in OUTCOMES} - set(SEEN)
    assert missing <= RARE and len(missing) <= 2, (missing, SEEN)


@settings(max_examples=40)
@given(st.data())
def test_batches_agree(data: st.DataObject) -> None:
    tables = data.draw(populations())
    py, c = both(tables)
    items = data.draw(st.lists(requests(tables), max_size=20))
    body = orjson.dumps({"institution_code": INSTITUTION, "items": items})
    assert answers(py, body, True) == answers(c, body, True)


TRICKY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "０１",
        "7－10",
        "1\u200b",
        "abcdef",
        "2025-02-29",
        "myna_card",
        "info_notice",
        "00" + KOKUHO,
        KENPO,
        "face",
        "\ud7ff",
        "\U0001f600",
        "ＡＢ",
    ]
)


@settings(max_examples=400)
@given(st.fixed_dictionaries({}, optional={f: JSON_VALUES | TRICKY_TEXT for f in REQUEST_FIELDS}))
def test_arbitrary_requests_agree(request: dict[str, Any]) -> None:
    tables = Tables(insurers=[InsurerRow(n, "保険者", None) for n in INSURERS])
    py, c = both(tables)
    body = json.dumps(request, ensure_ascii=False).encode()  # orjson refuses ints past 64 bits
    assert answers(py, body) == answers(c, body)
