"""A stored-only column needs its declaration in core_ext.schema and a migration, nothing else.

tests/db/unheld_run.py declares two such columns (a qualification's text, a document's
date) in a fresh interpreter, adds them to a copy of the public examples and to a
fresh database, and reports what every path made of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import contextmanager

import pytest

from tests.conftest import ROOT
from tests.db.unheld_run import CHECKED_ON, NOTE

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from tests.db.conftest import fresh_database

    folder = tmp_path_factory.mktemp("unheld")
    with contextmanager(fresh_database)() as url:
        done = subprocess.run(
            [sys.executable, "-m", "tests.db.unheld_run", url, str(folder)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_the_columns_derive_from_the_schema(found: dict) -> None:
    # the last (a later schema may declare more before them)
    assert found["unheld"]["qualifications"][-1] == "example_remark"
    assert found["unheld"]["documents"][-1] == "example_checked_on"
    assert found["unheld"]["certificates"][-1] == "example_flag"
    assert found["unheld"]["persons"][-1] == "example_count"


def test_a_data_set_carries_them_and_both_checks_agree(found: dict) -> None:
    assert found["qualification_extra"][0][-1] == NOTE
    assert found["qualification_extra"][1] == []  # () when all are empty: rows compare equal
    assert found["document_extra"][0][-1] == found["checked_on_day"]
    assert found["document_extra"][1] == []
    assert found["certificate_extra"][0][-1] is False and found["certificate_extra"][1] == []
    assert found["person_extra"][0][-1] == 7 and found["person_extra"][1] == []
    assert found["python_checks_agree"] is True


def test_a_bad_value_is_a_problem_naming_the_column(found: dict) -> None:
    assert found["bad_day"] == ["documents.csv:2: example_checked_on: not a valid date (YYYY-MM-DD)"]


def test_they_are_stored_read_back_and_upserted(found: dict) -> None:
    assert found["stored_note"] == NOTE
    assert found["stored_checked_on"] == CHECKED_ON
    assert found["qualifications_read_back"] is True
    assert found["documents_read_back"] is True
    assert found["others_read_back"] is True
    assert found["flags_as_text"] == ["0", None]
    assert found["upserted_note"] == "再確認"
    assert found["cleared_note"] is None


def test_answers_are_unchanged(found: dict) -> None:
    answers = found["answers"]
    assert len(answers) >= 2
    for name, got in answers.items():
        assert got == found["expected"], name
