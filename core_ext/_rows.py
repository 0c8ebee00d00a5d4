"""Row-grouped storage of the columns a decision reads together.

A lookup reads about a dozen fields of one qualification, seven of one person and six
of one certificate.  Stored as one array per field, that is one cache line per field,
each a likely miss once the snapshot outgrows the cache; stored as fixed-size rows
(32, 24 and 16 bytes, the arrays aligned to 64), it is one line per row.  Measured
with bench/ab_core.py against the columnar core (the same snapshot and requests,
9 alternating rounds in one process), medians of the per-round time ratios:
single confirmations 0.73x at 100,000 members and 0.65x at 200,000, batch items
0.85x and 0.72x.

The columns stay readable by name: `column_view` gives a strided memoryview over the
rows that indexes, iterates, slices and bisects like the array it replaces, so the
pure-Python core, the overlay and the tests read `data.q_lost[q]` as before.  The
layouts below are mirrored by the QRow, PRow and CRow structs in `_core.pxd`; a test
checks that the two agree.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

ALIGN = 64  # a cache line: a 32-byte row never straddles two
IntCode = Literal["b", "h", "i", "I"]  # the array type codes of the columns


class Layout(NamedTuple):
    """One kind of row: its size and, per column, the struct type code and byte offset."""

    field: str  # the SnapshotData field holding the rows
    size: int
    columns: dict[str, tuple[IntCode, int]]
    extra_rows: int = 0  # trailing rows holding only the first column (an index's end)


QUAL_ROWS = Layout(
    "q_rows",
    32,
    {
        "q_person": ("i", 0),
        "q_symbol": ("i", 4),
        "q_number": ("i", 8),
        "q_acquired": ("i", 12),
        "q_lost": ("i", 16),
        "q_id": ("I", 20),
        "q_insurer": ("h", 24),
        "q_branch": ("b", 26),
        "q_relationship": ("b", 27),
        "q_income": ("b", 28),
        "q_limit": ("b", 29),
        # The person's sex, copied: the answer's person block is written from the row
        # of the qualification it discloses, so the person's own row need not hold it.
        "q_sex": ("b", 30),
    },
)
PERSON_ROWS = Layout(
    "p_rows",
    24,
    {
        "p_qual": ("i", 0),  # persons + 1 entries: person p's rows are p_qual[p] .. p_qual[p + 1] - 1
        "p_birth": ("i", 4),
        "p_name": ("i", 8),
        "p_kana": ("i", 12),
        "p_id": ("I", 16),
        "p_reg_from": ("h", 20),
        "p_reg_last": ("h", 22),
    },
    extra_rows=1,
)
CERT_ROWS = Layout(
    "c_rows",
    16,
    {
        "c_person": ("i", 0),
        "c_serial": ("i", 4),
        "c_issued": ("h", 8),
        "c_expires": ("h", 10),
        "c_revoked": ("h", 12),
        "c_face_only": ("b", 14),
    },
)
LAYOUTS = (QUAL_ROWS, PERSON_ROWS, CERT_ROWS)
LAYOUT_OF = {name: layout for layout in LAYOUTS for name in layout.columns}


def aligned_buffer(size: int) -> memoryview:
    """`size` zero bytes starting on an ALIGN boundary (the view keeps its buffer alive)."""
    raw = array("B", bytes(size + ALIGN))
    start = (-raw.buffer_info()[0]) % ALIGN
    return memoryview(raw)[start : start + size]


def row_count(layout: Layout, rows: Any) -> int:
    """How many rows a buffer of `layout` holds, trailing index rows excluded."""
    return len(rows) // layout.size - layout.extra_rows


def column_view(layout: Layout, rows: Any, name: str) -> memoryview:
    """Column `name` of the rows as a strided memoryview (read-only if the rows are)."""
    code, offset = layout.columns[name]
    item = array(code).itemsize
    if layout.size % item or offset % item:
        raise ValueError(f"{name}: offset {offset} does not fit type {code!r}")
    total = len(rows) // layout.size
    count = total if name == next(iter(layout.columns)) else total - layout.extra_rows
    view = memoryview(rows).cast("B")[: total * layout.size].cast(code)
    step = layout.size // item
    return view[offset // item :: step][:count]


def pack(layout: Layout, columns: Mapping[str, Any]) -> memoryview:
    """The rows of `layout` from its columns, each an array (or memoryview) of exactly
    the column's type code: a signed column given unsigned values is refused, not
    reinterpreted."""
    first = next(iter(layout.columns))
    count = len(columns[first]) - layout.extra_rows
    rows = aligned_buffer((count + layout.extra_rows) * layout.size)
    for name, (code, _) in layout.columns.items():
        values = memoryview(columns[name])
        expected = count + layout.extra_rows if name == first else count
        if values.format != code or len(values) != expected:
            raise ValueError(
                f"{name}: {len(values)} values of type {values.format!r}, expected {expected} of {code!r}"
            )
        column_view(layout, rows, name)[:] = values
    return rows.toreadonly()
