"""Validate a data set (CONTRACT.md §4) into snapshot tables, all or nothing.

Rows come as `(line, {column: text or None})` from any source: CSV files here, the
demo generator, later the import and admin upserts.  Every problem is collected as
`FILE:LINE: column: reason` (reasons never quote an identifier's value); if there is
any, `DataSetError` carries them all and nothing is returned.
"""

from __future__ import annotations

import csv
import gc
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core_ext import (
    DOCUMENT_KINDS,
    ELIGIBILITY_CERTIFICATE,
    INCOME_CLASSES,
    LEGACY_CARD,
    LIMIT_CATEGORIES,
    NO_END,
    UNHELD,
    CertificateRow,
    DocumentRow,
    InsurerRow,
    PersonRow,
    QualificationRow,
    RegistrationRow,
    SnapshotData,
    Tables,
    is_institution_code,
    normalise_branch,
    normalise_insurer_number,
    normalise_number,
    normalise_serial,
    normalise_symbol,
    parse_day,
    schema,
    snapshot,
)
from core_ext import checkrows as _checkrows  # None where not built: every row takes the Python checks

FILES = tuple(e.file for e in schema.ENTITIES)
COLUMNS = {e.file: e.names for e in schema.ENTITIES}
# Columns that may be empty (or left out of a file's header); every other column is required.
OPTIONAL = frozenset(c.name for e in schema.ENTITIES for c in e.columns if c.optional)
# Per file, the columns no row type holds: checked by their form alone (`_Checker.extra`).
UNHELD_COLUMNS = {e.file: UNHELD.get(e.table, ()) for e in schema.ENTITIES}
SMALL_MAX = 32767
FLAGS = {"0": False, "1": True}
MAX_ID = 2**63 - 1
NO_LEGACY_FROM = parse_day("2024-12-02") or 0
MAX_PROBLEMS_SHOWN = 100
MAX_CACHED_DAYS = 200_000
_DAYS: dict[str, int | None] = {}
MAX_CACHED_VALUES = 500_000  # per normaliser
_NORMALISED: dict[Callable[[str], Any], dict[str, tuple[Any, str | None]]] = {}

Row = dict[str, "str | None"]
Cells = tuple["str | None", ...]  # a row's cells in COLUMNS order (None: no such cell)
Source = Iterable[tuple[int, "Row | Cells"]]


@dataclass
class DataSet:
    """A validated data set: snapshot tables plus institutions keyed by API-key hash."""

    tables: Tables
    institutions: dict[str, str] = field(default_factory=dict)  # sha256 hex -> code
    institution_names: dict[str, str] = field(default_factory=dict)  # code -> name
    # code -> the hash of its previous key, accepted too while a rotation overlaps
    previous_keys: dict[str, str] = field(default_factory=dict)
    # code -> its own requests per second, where it has one (service/ratelimit.py)
    rate_limits: dict[str, int] = field(default_factory=dict)

    def build(self) -> tuple[SnapshotData, dict[str, str]]:
        """Its snapshot and institutions (as core_ext.open_snapshot gives a file's)."""
        return snapshot(self.tables), self.institutions


class DataSetError(Exception):
    """The data set is invalid; `problems` lists every `FILE:LINE: column: reason`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the data set")
        self.problems = problems

    def report(self) -> str:
        """The problem list as printed by the CLI: at most 100 lines, then a count."""
        shown = self.problems[:MAX_PROBLEMS_SHOWN]
        rest = len(self.problems) - len(shown)
        return "\n".join(shown + ([f"... and {rest} more problem(s)"] if rest else []))


# An API key's length at least: 22 random base64 characters carry 132 bits.  Keys that
# begin with DEMO_KEY_PREFIX are the public examples' (CONTRACT.md's demo keys): accepted
# in a data set, never through an upsert.
MIN_API_KEY = 22
DEMO_KEY_PREFIX = "demo-key-"


def short_key_problem(key: str) -> str | None:
    """Why a key is too guessable to issue, or None."""
    if len(key) >= MIN_API_KEY:
        return None
    return f"shorter than {MIN_API_KEY} characters (a key needs 128 bits: e.g. 22 random base64 characters)"


def hash_api_key(key: str) -> str:
    """The stored form of an API key: its SHA-256 in hex."""
    return hashlib.sha256(key.encode()).hexdigest()


class _Checker:
    """Typed access to one row's cells that records a problem instead of raising."""

    def __init__(self, problems: list[str], file: str) -> None:
        self.problems = problems
        self.file = file
        self.line = 0
        self.row: Row = {}
        self.ok = True
        self.unheld = UNHELD_COLUMNS[file]

    def start(self, line: int, row: Row | Cells) -> None:
        if isinstance(row, tuple):
            row = dict(zip(COLUMNS[self.file], row, strict=True))
        self.line, self.row, self.ok = line, row, True

    def fail(self, column: str, reason: str, line: int | None = None) -> None:
        self.problems.append(f"{self.file}:{self.line if line is None else line}: {column}: {reason}")
        self.ok = False

    def cell(self, column: str) -> str | None:
        value = self.row.get(column)
        if value is None or value == "":
            if column not in OPTIONAL:
                self.fail(column, "required")
            return None
        return value

    # The methods below inline `cell` for the common present value: millions of calls.

    def ident(self, column: str) -> int:
        value = self.row.get(column)
        if not value:
            self.cell(column)  # records "required"
            return 0
        number = int(value) if value.isascii() and value.isdigit() else 0
        if not 1 <= number <= MAX_ID:
            self.fail(column, "not an integer from 1 to 2^63-1")
            return 0
        return number

    def day(self, column: str) -> int | None:
        value = self.row.get(column)
        if not value:
            self.cell(column)  # records "required" unless optional
            return None
        # A data set repeats few distinct dates: parse each once (bounded, in case of junk).
        day = _DAYS.get(value, -1)
        if day == -1:
            day = parse_day(value)
            if len(_DAYS) < MAX_CACHED_DAYS:
                _DAYS[value] = day
        if day is None:
            self.fail(column, "not a valid date (YYYY-MM-DD)")
        return day

    def choice(self, column: str, choices: dict[str, int], default: int = 0) -> int:
        value = self.row.get(column)
        if not value:
            self.cell(column)
            return default
        if value not in choices:
            self.fail(column, "must be one of " + ", ".join(choices))
            return default
        return choices[value]

    def normalised(
        self, column: str, normalise: Callable[[str], tuple[Any, str | None]], memo: bool = True
    ) -> Any:
        """The canonical value of a cell; `memo` remembers each distinct input (keys repeat a lot)."""
        value = self.row.get(column)
        if not value:
            value = ""
            if column not in OPTIONAL:
                self.fail(column, "required")
                return None
        cache = _NORMALISED.setdefault(normalise, {}) if memo else None
        outcome = cache.get(value) if cache is not None else None
        if outcome is None:
            outcome = normalise(value)
            if cache is not None and len(cache) < MAX_CACHED_VALUES:
                cache[value] = outcome
        canonical, problem = outcome
        if problem is not None:
            self.fail(
                column,
                {
                    "FORMAT": "malformed",
                    "LENGTH": "wrong length",
                    "CHECK_DIGIT": "check digit does not match",
                }[problem],
            )
        return canonical

    def extra(self) -> tuple[Any, ...]:
        """The row's values of the columns no row type holds, by form; () when all are empty."""
        if not self.unheld:
            return ()
        values = tuple(self._by_form(column) for column in self.unheld)
        return values if any(v is not None for v in values) else ()

    def _by_form(self, column: schema.Column) -> Any:
        name, form = column.name, column.form
        if form is schema.Form.DAY:
            return self.day(name)
        value = self.cell(name)
        if value is None or form is schema.Form.TEXT:
            return value
        if form is schema.Form.ID:
            return self.ident(name) or None
        if form is schema.Form.SMALL:
            if not (value.isascii() and value.isdigit() and int(value) <= SMALL_MAX):
                self.fail(name, f"not an integer from 0 to {SMALL_MAX}")
                return None
            return int(value)
        choices: Mapping[str, Any] = FLAGS if form is schema.Form.FLAG else column.choices or {}
        if value not in choices:
            self.fail(name, "must be one of " + ", ".join(choices))
            return None
        return choices[value]


def _unique(check: _Checker, seen: dict[Any, int], value: Any, column: str) -> None:
    if value in seen:
        check.fail(column, f"duplicate (first on line {seen[value]})")
    else:
        seen[value] = check.line


def validate(sources: Mapping[str, Source], compiled: bool = True) -> DataSet:
    """See _validate; the cyclic garbage collector is paused meanwhile.

    Millions of row tuples and no reference cycles: left on, the collector re-walks
    every live row again and again (a third of the time of a 200,000-member data set).
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _validate(sources, compiled)
    finally:
        if paused:
            gc.enable()


def _validate(sources: Mapping[str, Source], compiled: bool) -> DataSet:
    """Check every row of every file; return the data set or raise DataSetError.

    With `compiled` (and the extension
    built), the common rows are checked by core_ext._checkrows and only the others
    by the `check_*` functions below; the outcome is the same either way.
    """
    problems: list[str] = []
    tables = Tables()
    data = DataSet(tables)
    fast = _checkrows if compiled else None

    def checker(file: str) -> tuple[_Checker, Source]:
        return _Checker(problems, file), sources.get(file, ())

    c, source = checker("insurers.csv")
    insurer_line: dict[str, int] = {}
    for line, row in source:
        c.start(line, row)
        number = c.normalised("insurer_number", normalise_insurer_number)
        name = c.cell("name")
        cutoff = c.day("legacy_card_valid_until")
        extra = c.extra()
        if number is not None:
            _unique(c, insurer_line, number, "insurer_number")
        if c.ok and number is not None and name is not None:
            tables.insurers.append(InsurerRow(number, name, cutoff, extra))

    c, source = checker("persons.csv")
    person_line: dict[int, int] = {}

    def check_person(line: int, row: Row | Cells) -> None:
        c.start(line, row)
        pid = c.ident("person_id")
        name = c.cell("name")
        kana = c.cell("name_kana")
        sex = c.choice("sex", {"1": 1, "2": 2, "3": 3})
        birth = c.day("birthdate")
        extra = c.extra()
        if pid:
            _unique(c, person_line, pid, "person_id")
        if c.ok and name is not None and birth is not None:
            tables.persons.append(PersonRow(pid, name, kana, sex, birth, extra))

    if fast is not None:
        fast.persons(source, check_person, COLUMNS["persons.csv"], person_line, tables.persons)
    else:
        for line, row in source:
            check_person(line, row)

    c, source = checker("qualifications.csv")
    qual_line: dict[int, int] = {}
    limits = {code: 0 for code in LIMIT_CATEGORIES}

    def check_qualification(line: int, row: Row | Cells) -> None:
        c.start(line, row)
        qid = c.ident("qualification_id")
        pid = c.ident("person_id")
        insurer = c.normalised("insurer_number", normalise_insurer_number)
        symbol = c.normalised("symbol", normalise_symbol)
        number = c.normalised("number", normalise_number)
        branch = c.normalised("branch", normalise_branch)
        relationship = c.choice("relationship", {"1": 1, "2": 2})
        acquired = c.day("acquired_on")
        lost = c.day("lost_on")
        income = c.choice("income_class", INCOME_CLASSES)
        limit = c.cell("limit_category")
        extra = c.extra()
        if limit is not None and limit not in limits:
            c.fail("limit_category", "must be A01-A06 or B01-B10")
        if qid:
            _unique(c, qual_line, qid, "qualification_id")
        if pid and pid not in person_line:
            c.fail("person_id", "no such person in persons.csv")
        if insurer is not None and insurer not in insurer_line:
            c.fail("insurer_number", "no such insurer in insurers.csv")
        if c.ok and None not in (insurer, symbol, number, branch, acquired):
            assert acquired is not None
            tables.qualifications.append(
                QualificationRow(
                    qid,
                    pid,
                    insurer,
                    symbol,
                    number,
                    branch,
                    relationship,
                    acquired,
                    lost,
                    income,
                    limit,
                    extra,
                )
            )

    if fast is not None:
        fast.qualifications(
            source,
            check_qualification,
            COLUMNS["qualifications.csv"],
            qual_line,
            person_line,
            insurer_line,
            normalise_symbol,
            normalise_number,
            _NORMALISED.setdefault(normalise_symbol, {}),
            _NORMALISED.setdefault(normalise_number, {}),
            tables.qualifications,
        )
    else:
        for line, row in source:
            check_qualification(line, row)
    _check_keys_in_force(tables.qualifications, qual_line, problems)

    c, source = checker("documents.csv")
    doc_line: dict[int, int] = {}

    def check_document(line: int, row: Row | Cells) -> None:
        c.start(line, row)
        did = c.ident("document_id")
        qid = c.ident("qualification_id")
        kind = c.choice("kind", DOCUMENT_KINDS, -1)
        issued = c.day("issued_on")
        until = c.day("valid_until")
        void = c.day("void_from")
        extra = c.extra()
        if did:
            _unique(c, doc_line, did, "document_id")
        if qid and qid not in qual_line:
            c.fail("qualification_id", "no such qualification in qualifications.csv")
        if kind == LEGACY_CARD and issued is not None and issued >= NO_LEGACY_FROM:
            c.fail("issued_on", "no legacy card may be issued on or after 2024-12-02")
        if kind == ELIGIBILITY_CERTIFICATE and not c.row.get("valid_until"):
            c.fail("valid_until", "required for an eligibility_certificate")
        if c.ok and issued is not None:
            tables.documents.append(DocumentRow(did, qid, kind, issued, until, void, extra))

    if fast is not None:
        fast.documents(
            source, check_document, COLUMNS["documents.csv"], doc_line, qual_line, tables.documents
        )
    else:
        for line, row in source:
            check_document(line, row)

    c, source = checker("certificates.csv")
    serial_line: dict[str, int] = {}

    def check_certificate(line: int, row: Row | Cells) -> None:
        c.start(line, row)
        serial = c.normalised("certificate_serial", normalise_serial, memo=False)  # unique anyway
        pid = c.ident("person_id")
        issued = c.day("issued_on")
        expires = c.day("expires_on")
        revoked = c.day("revoked_on")
        face_only = c.choice("face_only", {"0": 0, "1": 1})
        extra = c.extra()
        if serial is not None:
            _unique(c, serial_line, serial, "certificate_serial")
        if pid and pid not in person_line:
            c.fail("person_id", "no such person in persons.csv")
        if c.ok and serial is not None and issued is not None and expires is not None:
            tables.certificates.append(
                CertificateRow(serial, pid, issued, expires, revoked, bool(face_only), extra)
            )

    if fast is not None:
        fast.certificates(
            source,
            check_certificate,
            COLUMNS["certificates.csv"],
            serial_line,
            person_line,
            tables.certificates,
        )
    else:
        for line, row in source:
            check_certificate(line, row)

    c, source = checker("registrations.csv")
    registered_line: dict[int, int] = {}

    def check_registration(line: int, row: Row | Cells) -> None:
        c.start(line, row)
        pid = c.ident("person_id")
        registered = c.day("registered_on")
        requested = c.day("deregistration_requested_on")
        extra = c.extra()
        if pid:
            _unique(c, registered_line, pid, "person_id")
            if pid not in person_line:
                c.fail("person_id", "no such person in persons.csv")
        if c.ok and registered is not None:
            tables.registrations.append(RegistrationRow(pid, registered, requested, extra))

    if fast is not None:
        fast.registrations(
            source,
            check_registration,
            COLUMNS["registrations.csv"],
            registered_line,
            person_line,
            tables.registrations,
        )
    else:
        for line, row in source:
            check_registration(line, row)

    c, source = checker("institutions.csv")
    code_line: dict[str, int] = {}
    for line, row in source:
        c.start(line, row)
        code = c.cell("institution_code")
        name = c.cell("name")
        key = c.cell("api_key")
        previous = c.cell("api_key_previous")
        rate_limit = c.ident("rate_limit")  # 0: none
        if code is not None:
            if not is_institution_code(code):
                c.fail("institution_code", "must be exactly 10 digits")
            _unique(c, code_line, code, "institution_code")
        digests: dict[str, str] = {}
        for column, value in (("api_key", key), ("api_key_previous", previous)):
            if (
                value is not None
                and not value.startswith(DEMO_KEY_PREFIX)
                and (why := short_key_problem(value))
            ):
                c.fail(column, why)
            if value is not None:
                digest = hash_api_key(value)
                if digest in data.institutions:
                    c.fail(column, "the same key is issued to another institution")
                elif digest in digests.values():
                    c.fail(column, "the same as api_key")
                digests[column] = digest
        if c.ok and code is not None and name is not None and key is not None:
            for digest in digests.values():
                data.institutions[digest] = code
            data.institution_names[code] = name
            if previous is not None:
                data.previous_keys[code] = digests["api_key_previous"]
            if rate_limit:
                data.rate_limits[code] = rate_limit

    if problems:
        raise DataSetError(problems)
    return data


def _check_keys_in_force(quals: list[QualificationRow], line: dict[int, int], problems: list[str]) -> None:
    """A key may not be in force for two persons at once (CONTRACT.md §4)."""
    by_key: dict[tuple[str, str, str, int], list[QualificationRow]] = {}
    for q in quals:
        by_key.setdefault((q.insurer_number, q.symbol, q.number, q.branch), []).append(q)
    for group in by_key.values():
        if len(group) < 2 or len({q.person_id for q in group}) < 2:
            continue
        group.sort(key=lambda q: q.acquired_on)
        # Sweep in start order, remembering the open interval that ends last.
        last = group[0]
        for q in group[1:]:
            last_end = NO_END if last.lost_on is None else last.lost_on
            if q.acquired_on < last_end and q.person_id != last.person_id:
                problems.append(
                    f"qualifications.csv:{line[q.qualification_id]}: number: key already in force "
                    f"for another person (line {line[last.qualification_id]})"
                )
            q_end = NO_END if q.lost_on is None else q.lost_on
            if q_end > last_end:
                last = q


def read_csv(path: Path) -> Iterator[tuple[int, Row]]:
    """Rows of one CSV file with their line numbers (an empty cell is "", meaning null)."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        for cells in reader:
            if not cells:
                continue
            # Empty cells stay "" here: the checker treats "" and None alike (null).
            yield reader.line_num, dict(zip(header, cells, strict=False))


def read_csv_cells(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, Cells]]:
    """Rows of one CSV file as cells in `columns` order, with their line numbers.

    Cheaper than dicts for millions of rows; a missing cell is None, an empty one "".
    """
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        width = len(header)
        # As dict(zip(header, cells)) would: the last of repeated names; absent -> None.
        where = tuple(width - 1 - header[::-1].index(c) if c in header else width for c in columns)
        if _checkrows is not None:
            yield from _checkrows.csv_cells(reader, where, width)
            return
        for cells in reader:
            if cells:
                yield reader.line_num, tuple(cells[i] if i < len(cells) else None for i in where)


def load_dir(folder: str | Path) -> DataSet:
    """Read and validate the seven CSV files of a data set folder."""
    folder = Path(folder)
    problems: list[str] = []
    sources: dict[str, Source] = {}
    for name in FILES:
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}:0: -: file missing")
            continue
        try:
            with path.open(encoding="utf-8-sig", newline="") as f:
                header = next(csv.reader(f), [])
        except UnicodeDecodeError:
            problems.append(f"{name}:1: -: not UTF-8")
            continue
        header = [h.strip() for h in header]
        missing = [col for col in COLUMNS[name] if col not in header and col not in OPTIONAL]
        for col in missing:
            problems.append(f"{name}:1: {col}: column missing from the header")
        sources[name] = _guarded(read_csv_cells(path, COLUMNS[name]), name, problems)
    if problems:
        raise DataSetError(problems)
    return validate(sources)


def _guarded(
    rows: Iterator[tuple[int, Cells]], name: str, problems: list[str]
) -> Iterator[tuple[int, Cells]]:
    """Turn a decoding or CSV syntax failure into a problem instead of an exception."""
    try:
        yield from rows
    except (UnicodeDecodeError, csv.Error) as exc:
        problems.append(f"{name}:0: -: unreadable ({type(exc).__name__})")
