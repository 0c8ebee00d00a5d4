"""A base snapshot plus an overlay of changed persons answers exactly like a full rebuild.

Random populations get random changes (keys moved, losses, new qualifications,
documents, registrations, certificates, birthdates) through `service.mirror.Mirror`;
the layered core and a core rebuilt from every row must give the same answers and
the same access-log items to random requests, with both implementations.
"""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

import core_ext
from core_ext._build import (
    CertificateRow,
    DocumentRow,
    QualificationRow,
    RegistrationRow,
    Tables,
)
from service.dataset import validate
from service.db.rows import key_of
from service.mirror import Mirror
from service.state import Generation, layered_generation
from tests.core_ext.test_differential import (
    INSURERS,
    NUMBERS,
    SYMBOLS,
    answers,
    days,
    maybe_day,
    populations,
    requests,
)
from tests.population import INSTITUTION, Population

TABLES = ("insurers", "persons", "qualifications", "documents", "certificates", "registrations")


def mirror_of(tables: Tables) -> Mirror:
    mirror = Mirror()
    for table in TABLES:
        for row in getattr(tables, table):
            mirror.put(table, row, key_of(table, row))
    mirror.rebuilt()
    return mirror


@st.composite
def changes(draw: st.DrawFn, mirror: Mirror) -> None:
    """Apply 1-4 random changes to the mirror (keeping every reference valid)."""
    persons = sorted(mirror.rows["persons"])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["move", "lose", "add", "doc", "reg", "cert", "birth"]))
        quals = sorted(mirror.rows["qualifications"])
        if kind in ("move", "lose", "doc") and not quals:
            kind = "add"
        if kind == "move":  # a key or a person changes
            q = mirror.rows["qualifications"][draw(st.sampled_from(quals))]
            q = q._replace(
                symbol=draw(st.sampled_from(SYMBOLS)),
                number=draw(st.sampled_from(NUMBERS)),
                person_id=draw(st.sampled_from(persons)),
            )
            mirror.put("qualifications", q, q.qualification_id)
        elif kind == "lose":
            q = mirror.rows["qualifications"][draw(st.sampled_from(quals))]
            mirror.put("qualifications", q._replace(lost_on=draw(maybe_day)), q.qualification_id)
        elif kind == "add":
            qid = max(quals, default=0) + 1
            acquired = draw(days)
            row = QualificationRow(
                qid,
                draw(st.sampled_from(persons)),
                draw(st.sampled_from(INSURERS)),
                draw(st.sampled_from(SYMBOLS)),
                draw(st.sampled_from(NUMBERS)),
                draw(st.sampled_from([-1, 0, 1])),
                1,
                acquired,
                draw(st.none() | st.integers(acquired, acquired + 700)),
                0,
                None,
            )
            mirror.put("qualifications", row, qid)
        elif kind == "doc":
            docs = sorted(mirror.rows["documents"])
            if docs and draw(st.booleans()):
                mirror.remove("documents", draw(st.sampled_from(docs)))
            else:
                did = max(docs, default=0) + 1
                row = DocumentRow(
                    did,
                    draw(st.sampled_from(quals)),
                    draw(st.sampled_from([1, 2, 3])),
                    draw(days),
                    draw(maybe_day),
                    draw(maybe_day),
                )
                mirror.put("documents", row, did)
        elif kind == "reg":
            pid = draw(st.sampled_from(persons))
            if pid in mirror.rows["registrations"] and draw(st.booleans()):
                mirror.remove("registrations", pid)
            else:
                mirror.put("registrations", RegistrationRow(pid, draw(days), draw(maybe_day)), pid)
        elif kind == "cert":
            serial = f"C{draw(st.integers(1, len(persons) + 1)):X}"
            issued = draw(days)
            row = CertificateRow(
                serial,
                draw(st.sampled_from(persons)),
                issued,
                issued + draw(st.integers(0, 900)),
                draw(maybe_day),
                draw(st.booleans()),
            )
            mirror.put("certificates", row, serial)
        else:
            pid = draw(st.sampled_from(persons))
            p = mirror.rows["persons"][pid]
            mirror.put("persons", p._replace(birthdate=draw(days)), pid)


@settings(max_examples=120)
@given(st.data(), st.sampled_from(sorted(core_ext.IMPLEMENTATIONS)))
def test_overlay_answers_like_a_full_rebuild(data: st.DataObject, impl_name: str) -> None:
    impl = core_ext.IMPLEMENTATIONS[impl_name]
    before = data.draw(populations())
    mirror = mirror_of(before)
    base_data = core_ext.snapshot(before)
    base = Generation(impl(base_data), {}, "v", base_data.persons, base_data.qualifications, 0.0)
    data.draw(changes(mirror))
    after = mirror.dataset().tables
    layered = layered_generation(base, mirror, 2).core
    rebuilt = impl(core_ext.snapshot(after))
    for _ in range(12):
        request = data.draw(requests(after) | requests(before))
        body = orjson.dumps({"institution_code": INSTITUTION, **request})
        assert answers(layered, body) == answers(rebuilt, body), request


def test_untouched_persons_are_answered_by_the_base() -> None:
    """The overlay stays small: only what a change can affect is routed to it."""
    w = Population()
    for pid in range(1, 6):
        w.person(pid, "1980-01-01")
        w.qual(pid * 10, pid, "2020-04-01", number=str(pid))
        w.cert(f"AB{pid:02d}", pid, "2020-01-01", "2030-01-01")
    mirror = mirror_of(validate(w.sources()).tables)
    assert not mirror.dirty
    reg = RegistrationRow(3, 738000, None)
    mirror.put("registrations", reg, 3)
    overlay, keys, serials = mirror.overlay()
    assert [p.person_id for p in overlay.persons] == [3]
    assert {k[2] for k in keys} == {"3"} and serials == {"AB03"}
