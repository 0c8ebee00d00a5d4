"""The compiled core reads plain request bodies without orjson; any body must be answered alike.

Random requests are written out in many textual forms - whitespace anywhere, keys in
any order, escaped or non-ASCII strings, nulls, numbers, duplicate, unknown or
nested fields, trailing text, truncation - and both cores must answer each body
with the same status, answer and access-log items.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import core_ext
from tests.core_ext.test_differential import answers, both, populations, requests
from tests.population import INSTITUTION, KENPO, Population

pytestmark = pytest.mark.compiled
SPACE = ["", " ", "\n", "\t ", "\r\n"]
# Non-ASCII symbols and numbers as reception systems send them: full-width digits and dashes,
# ideographic spaces, a four-byte character, a forbidden format character, too long.
VARIANT_CODES = [
    "７－１０",
    "北\u3000浜",
    "北浜",
    " 北浜",
    "１",
    "０１",
    "7\u201010",
    "𠮷",
    "\u200b1",
    "北" * 21,
    "ｱｲ",
]


def write(value: Any, rng: random.Random, escapes: float = 0.0) -> str:
    """JSON text of `value` with random (valid) spacing, and escapes in a share of the strings."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        gap = rng.choice
        parts = [
            f"{gap(SPACE)}{write(k, rng, escapes)}{gap(SPACE)}:{gap(SPACE)}{write(v, rng, escapes)}"
            for k, v in items
        ]
        return "{" + ",".join(parts) + rng.choice(SPACE) + "}"
    if isinstance(value, list):
        return (
            "["
            + ",".join(rng.choice(SPACE) + write(v, rng, escapes) for v in value)
            + rng.choice(SPACE)
            + "]"
        )
    if isinstance(value, str) and rng.random() < escapes and value:
        k = rng.randrange(len(value))  # one character as a \\u escape
        return (
            orjson.dumps(value[:k]).decode()[:-1]
            + f"\\u{ord(value[k]):04x}"
            + orjson.dumps(value[k + 1 :]).decode()[1:]
        )
    return orjson.dumps(value).decode()


@st.composite
def bodies(draw: st.DrawFn) -> tuple[Any, bytes]:
    tables = draw(populations())
    request: dict[str, Any] = {
        "institution_code": draw(st.sampled_from([INSTITUTION, "2710000027", "27100"])),
        **draw(requests(tables)),
    }
    change = draw(
        st.sampled_from(
            ["none", "none", "null", "number", "unknown", "nested", "unicode", "form", "dup", "tail", "cut"]
        )
    )
    field = draw(st.sampled_from(sorted(request)))
    if change == "form" and "number" in request:  # a symbol or number the normaliser rewrites
        request[draw(st.sampled_from(["symbol", "number"]))] = draw(st.sampled_from(VARIANT_CODES))
    elif change == "null":
        request[field] = None
    elif change == "number":
        request[field] = draw(st.integers(-5, 99))
    elif change == "unknown":
        request["note"] = "x"
    elif change == "nested":
        request[field] = {"limit_info": True}
    elif change == "unicode":
        request[field] = str(request[field]) + "田"
    rng = random.Random(draw(st.integers(0, 2**32)))
    text = write(request, rng, draw(st.sampled_from([0.0, 0.0, 0.1])))
    if change == "dup":
        text = text[:-1] + f',"{field}":' + orjson.dumps(request[field]).decode() + "}"
    elif change == "tail":
        text += draw(st.sampled_from([" ", "x", "{}", ","]))
    elif change == "cut":
        text = text[: draw(st.integers(0, len(text) - 1))]
    return tables, text.encode()


@settings(max_examples=500)
@given(bodies())
def test_any_body_is_answered_alike_by_both_cores(case: tuple[Any, bytes]) -> None:
    tables, body = case
    py, c = both(tables)
    assert answers(c, body) == answers(py, body), body


@settings(max_examples=300)
@given(st.data())
def test_the_scanned_and_the_decoded_path_agree(data: st.DataObject) -> None:
    """Within the compiled core: a plain body (read by the scanner) and the same request with
    an extra numeric field (which sends it through orjson) get the same answer."""
    tables = data.draw(populations())
    request = {"institution_code": INSTITUTION, **data.draw(requests(tables))}
    c = core_ext.IMPLEMENTATIONS["c"](core_ext.snapshot(tables))
    plain = orjson.dumps(request)
    decoded = orjson.dumps({**request, "x": 1})
    assert answers(c, plain) == answers(c, decoded), request


def test_booleans_are_read_from_the_body() -> None:
    w = Population()
    w.person(1, "1980-01-01")
    w.qual(10, 1, "2020-04-01", number="5")
    w.cert("AB01", 1, "2020-01-01", "2030-01-01")
    c = w.cores()["c"]
    card = {"institution_code": INSTITUTION, "presented": "myna_card", "certificate_serial": "AB01"}
    body = orjson.dumps({**card, "auth_method": "face", "proxy": True, "confirmation_date": "2024-01-01"})
    assert answers(c, body)[1]["code"] == "PROXY_NOT_ALLOWED"
    body = orjson.dumps({**card, "auth_method": "face", "proxy": False, "confirmation_date": "2024-01-01"})
    assert answers(c, body)[1]["code"] != "PROXY_NOT_ALLOWED"


@st.composite
def batch_bodies(draw: st.DrawFn) -> tuple[Any, bytes, bytes]:
    tables = draw(populations())
    items: list[Any] = draw(st.lists(requests(tables), max_size=6))
    if draw(st.booleans()):  # the items take the batch's default day
        items = [{k: v for k, v in item.items() if k != "confirmation_date"} for item in items]
    if len(items) > 0 and draw(st.booleans()):  # an item the validator refuses
        items[draw(st.integers(0, len(items) - 1))] = {"presented": draw(st.sampled_from(["x", 1, None]))}
    batch: dict[str, Any] = {
        "institution_code": draw(st.sampled_from([INSTITUTION, "2710000027"])),
        "items": items,
    }
    if draw(st.booleans()):
        batch["confirmation_date"] = draw(st.sampled_from(["2024-01-01", "2024-13-01", "1999-12-31"]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    text = write(batch, rng, draw(st.sampled_from([0.0, 0.0, 0.05])))
    return tables, text.encode(), orjson.dumps({**batch, "x": 1})


@settings(max_examples=300)
@given(batch_bodies())
def test_batches_are_answered_alike_scanned_decoded_and_by_the_twin(case: tuple[Any, bytes, bytes]) -> None:
    tables, body, decoded = case
    py, c = both(tables)
    assert answers(c, body, batch=True) == answers(py, body, batch=True) == answers(c, decoded, batch=True)


def test_invalid_utf8_in_a_symbol_is_malformed_json_in_both_cores() -> None:
    w = Population()
    w.person(1, "1980-01-01")
    w.qual(10, 1, "2020-04-01", symbol="北浜", number="5")
    cores = w.cores()
    head = b'{"institution_code":"%s","presented":"unspecified","insurer_number":"%s",' % (
        INSTITUTION.encode(),
        KENPO.encode(),
    )
    tail = b'"number":"5","birthdate":"1980-01-01","confirmation_date":"2024-01-01"}'
    good = head + '"symbol":"北浜",'.encode() + tail
    bad = head + b'"symbol":"\xe5\x8c",' + tail  # a truncated UTF-8 sequence
    for core in cores.values():
        assert answers(core, good)[1]["code"] == "VALID"
        assert answers(core, bad)[0] == 400


def test_the_memo_of_non_ascii_codes_stays_bounded_and_correct() -> None:
    """Past its bound the memo stops growing and answers still come out right (by the slow path)."""
    w = Population()
    w.person(1, "1980-01-01")
    w.qual(10, 1, "2020-04-01", symbol="北浜", number="5")
    c = w.cores()["c"]
    request = {
        "institution_code": INSTITUTION,
        "presented": "unspecified",
        "insurer_number": KENPO,
        "number": "5",
        "birthdate": "1980-01-01",
        "confirmation_date": "2024-01-01",
    }
    for i in range(66_000):  # distinct unknown symbols fill the memo
        answers(c, orjson.dumps({**request, "symbol": f"北{i}"}))
    for symbol in ("北浜", "北\u3000浜"):  # new forms after the bound, then a memoised one
        assert answers(c, orjson.dumps({**request, "symbol": symbol}))[1]["code"] == "VALID"


@pytest.mark.parametrize(
    ("symbol", "number", "stored"),
    [
        ("７－１０", "０１", ("7-10", "01")),  # full-width digits and dash
        ("7\u201010", "01", ("7-10", "01")),  # a hyphen the dash map unifies
        ("北\u3000浜", "5", ("北浜", "5")),  # an ideographic space
        (" 北浜", "５", ("北浜", "5")),
        ("北浜", "5", ("北浜", "5")),
    ],
)
def test_non_ascii_codes_read_from_the_body_are_normalised(
    symbol: str, number: str, stored: tuple[str, str]
) -> None:
    w = Population()
    w.person(1, "1980-01-01")
    w.qual(10, 1, "2020-04-01", symbol=stored[0], number=stored[1])
    request = {
        "institution_code": INSTITUTION,
        "presented": "unspecified",
        "insurer_number": KENPO,
        "symbol": symbol,
        "number": number,
        "birthdate": "1980-01-01",
        "confirmation_date": "2024-01-01",
    }
    for core in w.cores().values():
        status, answer, _log = answers(core, orjson.dumps(request))
        assert (status, answer["code"]) == (200, "VALID"), core


def test_the_scanner_knows_every_field_name_and_no_other() -> None:
    from core_ext._probe import key_number

    names = [
        "institution_code",
        "presented",
        "confirmation_date",
        "proxy",
        "consent",
        "certificate_serial",
        "auth_method",
        "identity_verified",
        "insurer_number",
        "symbol",
        "number",
        "branch",
        "birthdate",
    ]
    # key_at reads a key in place: the name, then its closing quote.
    assert [key_number(f'{name}":'.encode()) for name in names] == list(range(len(names)))
    for other in ("", "note", "symbols", "Symbol", "number ", "items", "birthdat", "institution_cod"):
        assert key_number(f'{other}":'.encode()) == -1, other
    for name in names:  # cut short before the closing quote, or escaped: not a plain key
        assert key_number(name.encode()) == -1, name
        assert key_number(f'{name[:-1]}\\u{ord(name[-1]):04x}":'.encode()) == -1, name
