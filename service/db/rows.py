"""How each entity is stored: SQL that reads canonical snapshot rows or CSV-style text rows.

Rows travel three ways: validated `Tables` rows into the database (`to_record`),
database rows back into `Tables` rows for the snapshot (`CANONICAL_SELECT`, day
numbers computed by PostgreSQL), and database rows as CSV-style text for
validating an upsert against what is stored (`TEXT_SELECT`).
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from core_ext import (
    DOCUMENT_KINDS,
    INCOME_CLASSES,
    CertificateRow,
    DocumentRow,
    InsurerRow,
    PersonRow,
    QualificationRow,
    RegistrationRow,
)
from service.dataset import COLUMNS


class Entity(NamedTuple):
    table: str  # table name, also the key of Tables and of an upsert body
    file: str  # the CSV file of CONTRACT.md §4
    key: str  # primary key column
    row: type  # the Tables row type (None for institutions)


ENTITIES = (
    Entity("insurers", "insurers.csv", "insurer_number", InsurerRow),
    Entity("persons", "persons.csv", "person_id", PersonRow),
    Entity("qualifications", "qualifications.csv", "qualification_id", QualificationRow),
    Entity("documents", "documents.csv", "document_id", DocumentRow),
    Entity("certificates", "certificates.csv", "certificate_serial", CertificateRow),
    Entity("registrations", "registrations.csv", "person_id", RegistrationRow),
)
BY_TABLE = {e.table: e for e in ENTITIES}
TABLES = (*BY_TABLE, "institutions")  # every table an upsert may name, in reference order
KEY_COLUMN = {e.table: e.key for e in ENTITIES} | {"institutions": "institution_code"}
CSV_FILE = {e.table: e.file for e in ENTITIES} | {"institutions": "institutions.csv"}
INTEGER_KEYS = {"persons", "qualifications", "documents", "registrations"}
DB_COLUMNS = {e.table: COLUMNS[e.file] for e in ENTITIES} | {
    "institutions": ("institution_code", "name", "api_key_sha256")
}

_DAY = "({} - date '0001-01-01' + 1)"  # date.toordinal() in SQL
KIND_CODE = "CASE kind " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in DOCUMENT_KINDS.items()) + " END"
INCOME_CODE = (
    "CASE income_class " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in INCOME_CLASSES.items()) + " END"
)
_CANONICAL_EXPR = {
    "legacy_card_valid_until": _DAY,
    "birthdate": _DAY,
    "acquired_on": _DAY,
    "lost_on": _DAY,
    "issued_on": _DAY,
    "valid_until": _DAY,
    "void_from": _DAY,
    "expires_on": _DAY,
    "revoked_on": _DAY,
    "registered_on": _DAY,
    "deregistration_requested_on": _DAY,
    "branch": "coalesce({}::int, -1)",
    "kind": KIND_CODE.replace("{", "{{").replace("}", "}}"),
    "income_class": INCOME_CODE.replace("{", "{{").replace("}", "}}"),
}
CANONICAL_SELECT = {
    table: "SELECT " + ", ".join(_CANONICAL_EXPR.get(c, "{}").format(c) for c in columns) + f" FROM {table}"
    for table, columns in DB_COLUMNS.items()
}
TEXT_SELECT = {
    e.table: "SELECT "
    + ", ".join(
        ("CASE WHEN face_only THEN '1' ELSE '0' END" if c == "face_only" else f"{c}::text") + f" AS {c}"
        for c in DB_COLUMNS[e.table]
    )
    + f" FROM {e.table}"
    for e in ENTITIES
}
_KIND_NAMES = {v: k for k, v in DOCUMENT_KINDS.items()}
_INCOME_NAMES = {v: k for k, v in INCOME_CLASSES.items()}


def _date(day: int | None) -> date | None:
    return None if day is None else date.fromordinal(day)


def to_record(table: str, row: Any) -> tuple[Any, ...]:
    """A validated `Tables` row as the tuple of its table's columns."""
    if table == "insurers":
        return (row.insurer_number, row.name, _date(row.legacy_card_valid_until))
    if table == "persons":
        return (row.person_id, row.name, row.name_kana, row.sex, _date(row.birthdate))
    if table == "qualifications":
        return (
            row.qualification_id,
            row.person_id,
            row.insurer_number,
            row.symbol,
            row.number,
            None if row.branch < 0 else f"{row.branch:02d}",
            row.relationship,
            _date(row.acquired_on),
            _date(row.lost_on),
            _INCOME_NAMES[row.income_class],
            row.limit_category,
        )
    if table == "documents":
        return (
            row.document_id,
            row.qualification_id,
            _KIND_NAMES[row.kind],
            _date(row.issued_on),
            _date(row.valid_until),
            _date(row.void_from),
        )
    if table == "certificates":
        return (
            row.certificate_serial,
            row.person_id,
            _date(row.issued_on),
            _date(row.expires_on),
            _date(row.revoked_on),
            bool(row.face_only),
        )
    if table == "registrations":
        return (row.person_id, _date(row.registered_on), _date(row.deregistration_requested_on))
    raise ValueError(f"unknown table {table}")


def key_of(table: str, row: Any) -> Any:
    """The primary key of a `Tables` row (or of an institutions record)."""
    if table == "institutions":
        return row[0]
    return getattr(row, KEY_COLUMN[table])
