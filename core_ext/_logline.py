"""One access-log record as the CSV line COPY reads: the record format's one home.

Both cores write these lines as they decide (the compiled core derives its fixed
fields from `PRESENTED_NAMES` and `CODE_NAMES` at import); service.accesslog copies them
into PostgreSQL as `COLUMNS` and reads them back with `parse_access_line`.  The cores
write the lines themselves, rather than calling a writer per decision, because a
Python call per confirmation would cost more than the rest of the decision.

`at,institution_code,presented,code,request_id,person_id,qualification_id` and a
newline; an empty field is null.  A number-path `NOT_FOUND` that names a person is a
birthdate mismatch: the request's key (and branch) exists, under that person, but the
birthdate was another.  Each person under the key gets a line (at most `MISS_PERSONS`,
the first met in the key's row order, written in the snapshot's person order), so that
the member sees the attempt in their access log.  A `NOT_FOUND` naming nobody found no
such key.

Every field is digits, a fixed name, a timestamp or a request id from [A-Za-z0-9._:-],
so nothing needs quoting.  The cores append these bytes straight into the access log's
buffer (a bytearray): no tuple, no str and no formatting pass per confirmation on the
hot path.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ._codes import CODE_NAMES, PRESENTED

PRESENTED_NAMES: dict[int, str] = {number: name for name, number in PRESENTED.items()}
# What a request id may be (service/hotpath.py takes a client's X-Request-ID only if it is one).
REQUEST_ID_PATTERN = r"[A-Za-z0-9._:\-]{1,128}"
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
_ID_MAX = 2**63 - 1
# The persons a birthdate mismatch is recorded against, at most (a key is one household).
MISS_PERSONS = 32
# The fields of a line, in order: the access_log table's columns.
COLUMNS = ("at", "institution_code", "presented", "code", "request_id", "person_id", "qualification_id")


def access_line(
    checked_at: str,
    institution: str,
    presented: int,
    code: int,
    request_id: str,
    person_id: int | None,
    qualification_id: int | None,
) -> bytes:
    """The record of one decision (ids are None where nothing was resolved)."""
    return (
        f"{checked_at},{institution},{PRESENTED_NAMES[presented]},{CODE_NAMES[code]},{request_id},"
        f"{'' if person_id is None else person_id},{'' if qualification_id is None else qualification_id}\n"
    ).encode()


def parse_access_line(line: bytes) -> dict[str, Any]:
    """A line (without its newline) as {column: value}; ids as int or None."""
    values: dict[str, Any] = dict(zip(COLUMNS, line.decode().split(","), strict=True))
    for column in ("person_id", "qualification_id"):
        values[column] = int(values[column]) if values[column] else None
    return values


def checked_access_line(line: bytes) -> dict[str, Any] | None:
    """`parse_access_line` for a line that may be damaged (torn by a crash or a full disk,
    edited by hand): None unless it is a whole record as the cores write them."""
    try:
        values = parse_access_line(line)
        datetime.fromisoformat(values["at"])
    except (ValueError, UnicodeDecodeError):
        return None
    code = values["institution_code"]
    sound = (
        len(code) == 10
        and code.isascii()
        and code.isdigit()
        and values["presented"] in _PRESENTED_SET
        and values["code"] in _CODE_SET
        and _REQUEST_ID.fullmatch(values["request_id"]) is not None
        and all(v is None or 0 < v <= _ID_MAX for v in (values["person_id"], values["qualification_id"]))
    )
    return values if sound else None


_PRESENTED_SET = frozenset(PRESENTED_NAMES.values())
_CODE_SET = frozenset(CODE_NAMES)
