"""The data set validator: every problem as FILE:LINE: column: reason, all or nothing."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from service.dataset import DataSetError, hash_api_key, load_dir, validate
from tests.conftest import EXAMPLES
from tests.population import KENPO, Population


def problems_of(w: Population) -> list[str]:
    with pytest.raises(DataSetError) as info:
        validate(w.sources())
    return info.value.problems


def base() -> Population:
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2000-01-01")
    return w


def test_examples_load() -> None:
    data = load_dir(EXAMPLES / "data")
    assert len(data.tables.persons) == 11 and len(data.tables.qualifications) == 14
    assert data.institutions[hash_api_key("demo-key-clinic")] == "2710000019"
    assert "demo-key-clinic" not in repr(data.institutions)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda w: w.person(2, "1970-02-30"), "persons.csv:3: birthdate: not a valid date (YYYY-MM-DD)"),
        (lambda w: w.person(1, "1970-01-01"), "persons.csv:3: person_id: duplicate (first on line 2)"),
        (lambda w: w.person(0, "1970-01-01"), "persons.csv:3: person_id: not an integer from 1 to 2^63-1"),
        (
            lambda w: w.person(2**63, "1970-01-01"),
            "persons.csv:3: person_id: not an integer from 1 to 2^63-1",
        ),
        (lambda w: w.person(2, "1970-01-01", sex=4), "persons.csv:3: sex: must be one of 1, 2, 3"),
        (
            lambda w: w.qual(2, 9, "2000-01-01"),
            "qualifications.csv:3: person_id: no such person in persons.csv",
        ),
        (
            lambda w: w.qual(2, 1, "2000-01-01", insurer=KENPO[:-1] + str((int(KENPO[-1]) + 1) % 10)),
            "qualifications.csv:3: insurer_number: check digit does not match",
        ),
        (
            lambda w: w.qual(2, 1, "2000-01-01", insurer="01270024"),
            "qualifications.csv:3: insurer_number: no such insurer in insurers.csv",
        ),
        (
            lambda w: w.qual(2, 1, "2000-01-01", number="", symbol="x"),
            "qualifications.csv:3: number: required",
        ),
        (lambda w: w.qual(2, 1, "2000-01-01", branch="1"), "qualifications.csv:3: branch: malformed"),
        (lambda w: w.qual(2, 1, "2000-01-01", symbol="1" * 21), "qualifications.csv:3: symbol: wrong length"),
        (
            lambda w: w.qual(2, 1, "2000-01-01", limit="C01"),
            "qualifications.csv:3: limit_category: must be A01-A06 or B01-B10",
        ),
        (
            lambda w: w.doc(1, 1, "legacy_card", "2024-12-02"),
            "documents.csv:2: issued_on: no legacy card may be issued on or after 2024-12-02",
        ),
        (
            lambda w: w.doc(1, 1, "eligibility_certificate", "2025-01-01"),
            "documents.csv:2: valid_until: required for an eligibility_certificate",
        ),
        (
            lambda w: w.doc(1, 7, "info_notice", "2025-01-01"),
            "documents.csv:2: qualification_id: no such qualification in qualifications.csv",
        ),
        (
            lambda w: w.doc(1, 1, "paper", "2025-01-01"),
            "documents.csv:2: kind: must be one of legacy_card, eligibility_certificate, info_notice",
        ),
        (
            lambda w: w.cert("XYZ", 1, "2020-01-01", "2025-01-01"),
            "certificates.csv:2: certificate_serial: malformed",
        ),
        (
            lambda w: (
                w.cert("ab", 1, "2020-01-01", "2025-01-01"),
                w.cert("AB", 1, "2020-01-01", "2025-01-01"),
            ),
            "certificates.csv:3: certificate_serial: duplicate (first on line 2)",
        ),
        (
            lambda w: (w.reg(1, "2020-01-01"), w.reg(1, "2021-01-01")),
            "registrations.csv:3: person_id: duplicate (first on line 2)",
        ),
        (
            lambda w: w.files["institutions.csv"].append(
                {"institution_code": "123", "name": "x", "api_key": "k" * 22}
            ),
            "institutions.csv:3: institution_code: must be exactly 10 digits",
        ),
        (
            lambda w: w.files["institutions.csv"].append(
                {"institution_code": "1310000035", "name": "x", "api_key": "guessable-key"}
            ),
            "institutions.csv:3: api_key: shorter than 22 characters "
            "(a key needs 128 bits: e.g. 22 random base64 characters)",
        ),
    ],
)
def test_each_problem_is_reported(mutate: object, expected: str) -> None:
    w = base()
    mutate(w)  # type: ignore[operator]
    assert expected in problems_of(w)


def test_key_in_force_for_two_persons() -> None:
    w = base()
    w.person(2, "1980-01-01")
    w.qual(2, 2, "2010-01-01", number="1")  # same key as qualification 1, still open
    w.qual(3, 2, "1990-01-01", "2000-01-01", number="1")  # ends the day qualification 1 starts: fine
    problems = problems_of(w)
    assert problems == ["qualifications.csv:3: number: key already in force for another person (line 2)"]


def test_a_key_may_pass_to_another_person_after_it_is_lost() -> None:
    w = Population()
    w.person(1, "1970-01-01")
    w.qual(1, 1, "2000-01-01", "2010-01-01", number="5")
    w.person(2, "1980-01-01")
    w.qual(2, 2, "2010-01-01", number="5")
    assert len(validate(w.sources()).tables.qualifications) == 2


def test_problems_never_quote_identifiers() -> None:
    w = base()
    w.qual(2, 1, "2000-01-01", symbol="秘密\u200b", number="SECRET-NUMBER", insurer="06270011")
    assert not any("SECRET" in p or "秘密" in p for p in problems_of(w))


def test_header_problems_and_missing_files(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    shutil.copytree(EXAMPLES / "data", folder)
    (folder / "registrations.csv").unlink()
    text = (folder / "persons.csv").read_text(encoding="utf-8")
    (folder / "persons.csv").write_text(text.replace("birthdate", "born"), encoding="utf-8")
    with pytest.raises(DataSetError) as info:
        load_dir(folder)
    assert "registrations.csv:0: -: file missing" in info.value.problems
    assert "persons.csv:1: birthdate: column missing from the header" in info.value.problems


def test_an_optional_column_may_be_left_out_of_the_header(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    shutil.copytree(EXAMPLES / "data", folder)
    rows = list(csv.reader((folder / "persons.csv").read_text(encoding="utf-8-sig").splitlines()))
    kana = rows[0].index("name_kana")
    with (folder / "persons.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([r[:kana] + r[kana + 1 :] for r in rows])
    persons = load_dir(folder).tables.persons
    assert len(persons) == len(rows) - 1 and all(p.name_kana is None for p in persons)
    assert any(p.name_kana for p in load_dir(EXAMPLES / "data").tables.persons)


def test_bom_and_column_order(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    shutil.copytree(EXAMPLES / "data", folder)
    lines = (folder / "insurers.csv").read_text(encoding="utf-8").splitlines()
    swapped = [",".join(reversed(line.split(","))) for line in lines]
    (folder / "insurers.csv").write_text("\ufeff" + "\n".join(swapped) + "\n", encoding="utf-8")
    assert len(load_dir(folder).tables.insurers) == 4


def test_report_caps_at_100() -> None:
    error = DataSetError([f"persons.csv:{i}: person_id: x" for i in range(250)])
    lines = error.report().splitlines()
    assert len(lines) == 101 and lines[-1] == "... and 150 more problem(s)"
