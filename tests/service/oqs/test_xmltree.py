"""OQS trees written and read back, in Shift_JIS, UTF-8 and the JSON form; half-width kana;
what a declaration names."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.oqs.kana import half_width
from service.oqs.xmltree import MessageError, declared_codec, parse_json, parse_xml, render_json, render_xml

NAMES = st.sampled_from(["MessageHeader", "MessageBody", "Name", "InsurerNumber", "Info", "A", "B"])
# XML 1.0 text: no C0 controls but tab and newline, no surrogates; no space at the ends (read back stripped).
TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"), max_size=12
).map(str.strip)


def trees() -> st.SearchStrategy[dict[str, Any]]:
    leaf_or_list = st.one_of(TEXT, st.lists(TEXT, min_size=2, max_size=3))
    return st.recursive(
        st.dictionaries(NAMES, leaf_or_list, min_size=1, max_size=3),
        lambda inner: st.dictionaries(NAMES, st.one_of(leaf_or_list, inner), min_size=1, max_size=3),
        max_leaves=12,
    )


@pytest.mark.parametrize("codec", ["cp932", "utf-8"])
@given(tree=trees())
def test_xml_round_trip(codec: str, tree: dict[str, Any]) -> None:
    raw = render_xml(tree, codec)
    assert parse_xml(raw) == (tree, codec)


@given(tree=trees())
def test_json_round_trip(tree: dict[str, Any]) -> None:
    assert parse_json(render_json(tree)) == tree


def test_result_lists_are_one_element_holding_the_items() -> None:
    tree = {"ResultList": [{"R": {"A": "1"}}, {"R": {"A": "2"}}]}
    raw = render_xml(tree, "utf-8")
    assert b"<ResultList><R><A>1</A></R><R><A>2</A></R></ResultList>" in raw
    assert parse_xml(raw)[0] == tree


@pytest.mark.parametrize(
    ("declaration", "codec"),
    [
        (b'<?xml version="1.0" encoding="Shift_JIS" standalone="no"?>', "cp932"),
        (b"<?xml version='1.0' encoding='shift-jis'?>", "cp932"),
        (b'<?xml version="1.0" encoding="windows-31j"?>', "cp932"),
        (b'<?xml version="1.0" encoding="UTF-8"?>', "utf-8"),
        (b'<?xml version="1.0"?>', "utf-8"),
        (b"", "utf-8"),
    ],
)
def test_declared_codec(declaration: bytes, codec: str) -> None:
    assert declared_codec(declaration + b"<XmlMsg/>") == codec


def test_other_encodings_are_refused_by_name() -> None:
    with pytest.raises(MessageError) as caught:
        declared_codec(b'<?xml version="1.0" encoding="ISO-2022-JP"?><XmlMsg/>')
    assert caught.value.code == "UNSUPPORTED_ENCODING" and "iso-2022-jp" in caught.value.message


KATAKANA = st.text(st.characters(min_codepoint=0x30A1, max_codepoint=0x30FA) | st.sampled_from("ー・\u3000"))


@given(KATAKANA)
def test_half_width_kana_reads_back_as_the_same(text: str) -> None:
    half = half_width(text)
    assert unicodedata.normalize("NFKC", half) == unicodedata.normalize("NFKC", text.replace("\u3000", " "))
    assert all(not ("\u30a1" <= ch <= "\u30fa") for ch in half) or any(
        unicodedata.normalize("NFKC", ch) == ch and ch in "ヮヰヱヵヶヷヸヹヺ" for ch in half
    )


def test_half_width_examples() -> None:
    assert half_width("ヤマダ　タロウ") == "ﾔﾏﾀﾞ ﾀﾛｳ"
    assert half_width("ガッコウ・パン") == "ｶﾞｯｺｳ･ﾊﾟﾝ"
    assert half_width("山田ABC") == "山田ABC"  # only kana, marks and spaces change
