"""One access-log record as the CSV line COPY reads, written by both cores as they decide.

`at,institution_code,presented,code,request_id,person_id,qualification_id` and a
newline; an empty field is null.  Every field is digits, a fixed name, a timestamp
or a request id from [A-Za-z0-9._:-], so nothing needs quoting.  The cores append
these bytes straight into the access log's buffer (a bytearray): no tuple, no str
and no formatting pass per confirmation on the hot path.
"""

from __future__ import annotations

from ._codes import CODE_NAMES, PRESENTED

PRESENTED_NAMES: dict[int, str] = {number: name for name, number in PRESENTED.items()}


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
