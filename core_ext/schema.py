"""The entity tables: each column's name, form, PostgreSQL type and nullability, in one place.

Every other list of an entity's columns derives from `ENTITIES` or is checked against it:

- the CSV files of CONTRACT.md §4 and their required columns (`service.dataset`);
- the SQL that stores rows, reads them back for the snapshot and as text for an upsert
  (`service.db.rows`), and the binary COPY selects (`service.db.snapshot`);
- the columns of the COPY streams the compiled builder parses (`core_ext._stream`);
- the `Tables` row types (`core_ext._build`: each holds a prefix of its table's columns
  and carries the rest in `extra`, checked when that module is imported; the data-set
  checks validate those by their form alone);
- the migrations (`tests/db/test_schema.py` compares the database's columns, types and
  nullability with these).

A column's position is its position here; new columns go at the end of their table.  A
new optional column no rule reads needs this declaration and a migration, nothing else
(tests/db/test_unheld_column.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from ._codes import DOCUMENT_KINDS, INCOME_CLASSES


class Form(Enum):
    """How a column is written in a data set and held in a `Tables` row."""

    ID = "id"  # a positive 64-bit integer
    TEXT = "text"  # text as given (names)
    CODE = "code"  # text with a canonical form (insurer numbers, symbols, numbers, serials)
    BRANCH = "branch"  # two digits, held as an integer (-1 when absent), stored as text
    SMALL = "small"  # a small integer (sex, relationship)
    DAY = "day"  # YYYY-MM-DD, held as a day number (date.toordinal()), stored as a date
    CHOICE = "choice"  # one of `choices`' names, held as its number, stored as the name
    FLAG = "flag"  # 1 or 0 in a data set, held as a bool, stored as a boolean
    SECRET = "secret"  # an API key, stored only as its SHA-256 (hex)


SQL_TYPE = {
    Form.ID: "bigint",
    Form.TEXT: "text",
    Form.CODE: "text",
    Form.BRANCH: "text",
    Form.SMALL: "smallint",
    Form.DAY: "date",
    Form.CHOICE: "text",
    Form.FLAG: "boolean",
    Form.SECRET: "text",
}


@dataclass(frozen=True)
class Column:
    name: str
    form: Form
    optional: bool = False  # the cell may be empty in a data set
    stored_empty: bool = False  # an empty cell is stored as a value ('' or the default), not NULL
    choices: Mapping[str, int] | None = None  # Form.CHOICE: the names and their numbers

    @property
    def stored_as(self) -> str:
        """The database column (an API key is kept only as its hash)."""
        return f"{self.name}_sha256" if self.form is Form.SECRET else self.name

    @property
    def nullable(self) -> bool:
        """Whether the database column may be NULL."""
        return self.optional and not self.stored_empty


@dataclass(frozen=True)
class Entity:
    table: str  # the table, the key of `Tables` and of an upsert body
    key: str  # the primary key column
    columns: tuple[Column, ...]

    @property
    def file(self) -> str:
        """The data set's CSV file (CONTRACT.md §4)."""
        return f"{self.table}.csv"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def stored(self) -> tuple[str, ...]:
        """The database columns, in order."""
        return tuple(c.stored_as for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


ENTITIES: tuple[Entity, ...] = (
    Entity(
        "insurers",
        "insurer_number",
        (
            Column("insurer_number", Form.CODE),
            Column("name", Form.TEXT),
            Column("legacy_card_valid_until", Form.DAY, optional=True),
        ),
    ),
    Entity(
        "persons",
        "person_id",
        (
            Column("person_id", Form.ID),
            Column("name", Form.TEXT),
            Column("name_kana", Form.TEXT, optional=True),
            Column("sex", Form.SMALL),
            Column("birthdate", Form.DAY),
        ),
    ),
    Entity(
        "qualifications",
        "qualification_id",
        (
            Column("qualification_id", Form.ID),
            Column("person_id", Form.ID),
            Column("insurer_number", Form.CODE),
            Column("symbol", Form.CODE, optional=True, stored_empty=True),  # '' when the card has none
            Column("number", Form.CODE),
            Column("branch", Form.BRANCH, optional=True),
            Column("relationship", Form.SMALL),
            Column("acquired_on", Form.DAY),
            Column("lost_on", Form.DAY, optional=True),
            Column("income_class", Form.CHOICE, optional=True, stored_empty=True, choices=INCOME_CLASSES),
            Column("limit_category", Form.TEXT, optional=True),
        ),
    ),
    Entity(
        "documents",
        "document_id",
        (
            Column("document_id", Form.ID),
            Column("qualification_id", Form.ID),
            Column("kind", Form.CHOICE, choices=DOCUMENT_KINDS),
            Column("issued_on", Form.DAY),
            Column("valid_until", Form.DAY, optional=True),
            Column("void_from", Form.DAY, optional=True),
        ),
    ),
    Entity(
        "certificates",
        "certificate_serial",
        (
            Column("certificate_serial", Form.CODE),
            Column("person_id", Form.ID),
            Column("issued_on", Form.DAY),
            Column("expires_on", Form.DAY),
            Column("revoked_on", Form.DAY, optional=True),
            Column("face_only", Form.FLAG, optional=True, stored_empty=True),
        ),
    ),
    Entity(
        "registrations",
        "person_id",
        (
            Column("person_id", Form.ID),
            Column("registered_on", Form.DAY),
            Column("deregistration_requested_on", Form.DAY, optional=True),
        ),
    ),
    Entity(
        "institutions",
        "institution_code",
        (
            Column("institution_code", Form.CODE),
            Column("name", Form.TEXT),
            Column("api_key", Form.SECRET),
            # Still accepted while a rotation overlaps (docs/operations.md#api-keys).
            Column("api_key_previous", Form.SECRET, optional=True),
            # Requests per second in place of ONSHI_RATE_LIMIT (service/ratelimit.py).
            Column("rate_limit", Form.ID, optional=True),
        ),
    ),
)
BY_TABLE: dict[str, Entity] = {e.table: e for e in ENTITIES}
TABLES = tuple(BY_TABLE)  # in reference order: a table only refers to tables before it
# The tables a snapshot is built from, in the order the stream builder is fed them.
SNAPSHOT_STREAMS = ("persons", "qualifications", "documents", "certificates", "registrations")


def _check() -> None:
    """A column name means one thing in every table (the validator's messages rely on it)."""
    seen: dict[str, tuple[Form, bool]] = {}
    for entity in ENTITIES:
        if entity.key not in entity.names:
            raise ValueError(f"{entity.table}: the key {entity.key} is not a column")
        for c in entity.columns:
            if seen.setdefault(c.name, (c.form, c.optional)) != (c.form, c.optional):
                raise ValueError(f"column {c.name} is declared two ways")
            if (c.form is Form.CHOICE) != (c.choices is not None):
                raise ValueError(f"column {c.name}: choices go with Form.CHOICE only")


_check()
