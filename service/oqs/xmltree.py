"""OQS messages as trees: XML (Shift_JIS or UTF-8) or the `{"XmlMsg": …}` JSON form, in and out.

A tree is what the JSON form already is: a dict of element names to a text, a tree, or a
list of either (an element repeated).  XML is parsed by defusedxml with DTDs refused
outright: no national message carries one, and refusing them stops entity expansion
(billion laughs) and external entities before anything is expanded or fetched.

Expat reads no multi-byte encoding but UTF-8, so the bytes are decoded here, as the
declaration says, and the parser gets text.  Shift_JIS is read and written as cp932
(Windows-31J), which is what Japanese Windows systems write under that name; a character
it cannot hold is written as a character reference, which every XML reader understands.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from xml.etree.ElementTree import Element

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

Tree = dict[str, Any]

ROOT = "XmlMsg"
UTF8 = "UTF-8"
SHIFT_JIS = "Shift_JIS"
# The codec each declared name is read and written with (names compared in lower case).
CODECS: dict[str, str] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "cp932": "cp932",
    "ms932": "cp932",
}
# The name written in an answer's declaration, per codec.
DECLARED = {"utf-8": UTF8, "cp932": SHIFT_JIS}
# Deeper than any national message (XmlMsg/MessageBody/ResultList/Result…/Info/leaf).
MAX_DEPTH = 8
# Elements whose repeated children are items of a list (the JSON form's arrays); in XML
# the list is written as one element holding them, e.g. ResultList.
LISTS = frozenset({"ResultList"})
DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]{1,40})[\"']")


class MessageError(ValueError):
    """A message that cannot be read; `code` and the Japanese `message` say why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def declared_codec(raw: bytes) -> str:
    """The codec of an XML document's declaration (UTF-8 without one, as XML says)."""
    found = DECLARATION.match(raw[:200])
    if found is None:
        return "utf-8"
    name = found.group(1).decode("ascii").lower()
    codec = CODECS.get(name)
    if codec is None:
        raise MessageError(
            "UNSUPPORTED_ENCODING",
            f"XML宣言の文字コード（{name}）には対応していません。Shift_JISかUTF-8で送ってください。",
        )
    return codec


def parse_xml(raw: bytes) -> tuple[Tree, str]:
    """(the tree under XmlMsg, the codec the answer is to be written in)."""
    codec = declared_codec(raw)
    if raw.startswith(b"\xef\xbb\xbf") and codec == "utf-8":
        raw = raw[3:]
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        raise MessageError(
            "MALFORMED_XML", f"XMLがXML宣言の文字コード（{DECLARED[codec]}）で読めません。"
        ) from None
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise MessageError(
            "FORBIDDEN_XML", "XMLに文書型定義（DOCTYPE）や実体参照の定義は使えません。"
        ) from None
    except (ParseError, ValueError) as error:
        raise MessageError("MALFORMED_XML", f"XMLとして読めません（{error}）。") from None
    if root.tag != ROOT:
        raise MessageError("MALFORMED_XML", f"XMLのルート要素は{ROOT}にしてください。")
    tree = _element_tree(root, 1)
    if not isinstance(tree, dict):
        raise MessageError("MALFORMED_XML", f"{ROOT}の中にMessageHeaderとMessageBodyがありません。")
    return tree, codec


def _element_tree(element: Element, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise MessageError("MALFORMED_XML", "XMLの入れ子が深すぎます。")
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if element.tag in LISTS:  # each child an item, as the JSON form's array has it
        return [{child.tag: _element_tree(child, depth + 1)} for child in children]
    tree: Tree = {}
    for child in children:
        value = _element_tree(child, depth + 1)
        held = tree.get(child.tag)
        if held is None:
            tree[child.tag] = value
        elif isinstance(held, list):
            held.append(value)
        else:
            tree[child.tag] = [held, value]
    return tree


def parse_json(raw: bytes) -> Tree:
    """The tree of the `{"XmlMsg": …}` form."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MessageError("MALFORMED_JSON", "リクエスト本文がJSONとして読めません。") from None
    tree = document.get(ROOT) if isinstance(document, dict) else None
    if not isinstance(tree, dict):
        raise MessageError("MALFORMED_JSON", f'JSONは{{"{ROOT}": {{…}}}}の形で送ってください。')
    return tree


def render_xml(tree: Tree, codec: str) -> bytes:
    """The XML document of a tree, declared and encoded in `codec`."""
    parts = [f'<?xml version="1.0" encoding="{DECLARED[codec]}" standalone="no"?>\n<{ROOT}>']
    _render(tree, parts)
    parts.append(f"</{ROOT}>\n")
    text = "".join(parts)
    if codec == "cp932":
        for char, reference in _cp932_lossy().items():
            if char in text:  # (a scan each, far cheaper than str.translate over the document)
                text = text.replace(char, reference)
    return text.encode(codec, "xmlcharrefreplace")


@functools.cache
def _cp932_lossy() -> dict[str, str]:
    """Characters cp932 writes but reads back as others (¢ as ￠, ∥ as ‖ …): written as
    character references, so that every answer reads back as it was meant."""
    lossy = {}
    for point in range(0x80, 0x10000):
        char = chr(point)
        try:
            if char.encode("cp932").decode("cp932") != char:
                lossy[char] = f"&#{point};"
        except UnicodeError:
            continue  # not in cp932 at all: xmlcharrefreplace writes a reference
    return lossy


def _render(tree: Tree, parts: list[str]) -> None:
    for name, value in tree.items():
        if value is None:
            continue
        if isinstance(value, list):
            if name in LISTS:
                parts.append(f"<{name}>")
                for item in value:
                    _render(item, parts)
                parts.append(f"</{name}>")
            else:
                for item in value:
                    _render({name: item}, parts)
        elif isinstance(value, dict):
            parts.append(f"<{name}>")
            _render(value, parts)
            parts.append(f"</{name}>")
        else:
            parts.append(f"<{name}>{_escape(str(value))}</{name}>")


def _escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def render_json(tree: Tree) -> bytes:
    return orjson.dumps({ROOT: tree})
