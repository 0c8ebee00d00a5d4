"""Half-width katakana (半角カナ), which the national interface uses for NameKana."""

from __future__ import annotations

import unicodedata

# Every half-width katakana and sign (U+FF61…U+FF9F) by its full-width form, then the
# voiced and semi-voiced kana as a half-width kana followed by its mark, derived rather
# than listed: NFKC maps each half-width form to its full-width one.
_HALF = [chr(c) for c in range(0xFF61, 0xFFA0)]
_TABLE: dict[int, str] = {ord(unicodedata.normalize("NFKC", h)): h for h in _HALF}
for _half in _HALF:
    for _mark in ("\uff9e", "\uff9f"):  # ﾞ ﾟ
        _full = unicodedata.normalize("NFKC", _half + _mark)
        if len(_full) == 1:
            _TABLE[ord(_full)] = _half + _mark
_TABLE[ord("\u3000")] = " "  # the full-width space between family and given names


def half_width(text: str) -> str:
    """`text` with full-width katakana, marks and spaces written half-width; the rest as it is."""
    return text.translate(_TABLE)
