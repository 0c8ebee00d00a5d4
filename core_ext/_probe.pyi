"""Test-only views into the compiled core's C helpers (core_ext/_probe.pyx)."""

def key_number(text: bytes) -> int:
    """The position of the plain field name opening `text` (up to its closing quote), or -1."""

def day_text(day: int) -> str:
    """A day number (date.toordinal()) as YYYY-MM-DD, as the answers write it."""

def day_parts(day: int) -> tuple[int, int, int]:
    """(year, month, day) of a day number."""

def row_offsets() -> dict[str, tuple[int, dict[str, int]]]:
    """Each row struct's size and field offsets, named as in core_ext._rows."""

def buffer_address(view: bytes | bytearray | memoryview) -> int:
    """The address of a byte buffer's first byte."""

def memo_sizes(core: object) -> tuple[int, int]: ...
def drop_answer_buffer(core: object) -> None: ...
