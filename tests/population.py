"""Build small populations for rule tests: rows through the real validator, both cores."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import orjson

import core_ext
from core_ext._text import insurer_check_digit, parse_day
from service.dataset import Row, validate

INSTITUTION = "2710000019"
API_KEY = "test-key-clinic-0123456789abcdef"  # 22 characters at least (service/dataset.py)
TODAY = parse_day("2026-11-23") or 0


def insurer_number(body: str) -> str:
    """Append the check digit to a 5- or 7-digit body."""
    return body + str(insurer_check_digit(body))


KENPO = insurer_number("0127001")  # 協会けんぽ, 8 digits
KUMIAI = insurer_number("0627001")
KOKUHO = insurer_number("27110")  # 国保, 6 digits
KOUKI = insurer_number("3927001")  # 後期高齢者


class Population:
    """Rows of the seven files, added with short calls."""

    def __init__(self) -> None:
        self.files: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.files["institutions.csv"].append(
            {"institution_code": INSTITUTION, "name": "テスト医院", "api_key": API_KEY}
        )
        for number, cutoff in ((KENPO, ""), (KUMIAI, ""), (KOKUHO, "2025-07-31"), (KOUKI, "2025-07-31")):
            self.insurer(number, cutoff)

    def insurer(self, number: str, cutoff: str = "", name: str = "テスト保険者") -> None:
        self.files["insurers.csv"].append(
            {"insurer_number": number, "name": name, "legacy_card_valid_until": cutoff}
        )

    def person(
        self, pid: int, birthdate: str, sex: int = 1, name: str = "試験 太郎", kana: str = "シケン タロウ"
    ) -> None:
        self.files["persons.csv"].append(
            {"person_id": pid, "name": name, "name_kana": kana, "sex": sex, "birthdate": birthdate}
        )

    def qual(
        self,
        qid: int,
        pid: int,
        acquired: str,
        lost: str = "",
        insurer: str = KENPO,
        symbol: str = "10",
        number: str | None = None,
        branch: str = "00",
        relationship: int = 1,
        income: str = "general",
        limit: str = "",
    ) -> None:
        self.files["qualifications.csv"].append(
            {
                "qualification_id": qid,
                "person_id": pid,
                "insurer_number": insurer,
                "symbol": symbol,
                "number": str(pid) if number is None else number,
                "branch": branch,
                "relationship": relationship,
                "acquired_on": acquired,
                "lost_on": lost,
                "income_class": income,
                "limit_category": limit,
            }
        )

    def doc(
        self, did: int, qid: int, kind: str, issued: str, valid_until: str = "", void_from: str = ""
    ) -> None:
        self.files["documents.csv"].append(
            {
                "document_id": did,
                "qualification_id": qid,
                "kind": kind,
                "issued_on": issued,
                "valid_until": valid_until,
                "void_from": void_from,
            }
        )

    def cert(
        self, serial: str, pid: int, issued: str, expires: str, revoked: str = "", face_only: bool = False
    ) -> None:
        self.files["certificates.csv"].append(
            {
                "certificate_serial": serial,
                "person_id": pid,
                "issued_on": issued,
                "expires_on": expires,
                "revoked_on": revoked,
                "face_only": "1" if face_only else "0",
            }
        )

    def reg(self, pid: int, registered: str, dereg: str = "") -> None:
        self.files["registrations.csv"].append(
            {"person_id": pid, "registered_on": registered, "deregistration_requested_on": dereg}
        )

    def sources(self) -> dict[str, list[tuple[int, Row]]]:
        return {
            name: [
                (i + 2, {k: (str(v) if v != "" else None) for k, v in row.items()})
                for i, row in enumerate(rows)
            ]
            for name, rows in self.files.items()
        }

    def cores(self) -> dict[str, Any]:
        """One core of each implementation over this population."""
        data = core_ext.snapshot(validate(self.sources()).tables)
        return {name: impl(data) for name, impl in core_ext.IMPLEMENTATIONS.items()}


def ask(core: Any, request: dict[str, Any], today: int = TODAY) -> dict[str, Any]:
    """Send one confirmation to a core; return the answer with `status` added."""
    body = {"institution_code": INSTITUTION, **request}
    status, answer = core.confirm(orjson.dumps(body), INSTITUTION, today, "rid", "checked", b'{"v":1}')
    return {"status": status, **orjson.loads(answer)}


def card(serial: str, day: str, auth: str = "face", **extra: Any) -> dict[str, Any]:
    return {
        "presented": "myna_card",
        "certificate_serial": serial,
        "auth_method": auth,
        "confirmation_date": day,
        **extra,
    }


def by_number(
    day: str,
    number: str,
    birthdate: str,
    presented: str = "unspecified",
    insurer: str = KENPO,
    symbol: str = "10",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "presented": presented,
        "insurer_number": insurer,
        "symbol": symbol,
        "number": number,
        "birthdate": birthdate,
        "confirmation_date": day,
        **extra,
    }


def day(text: str) -> int:
    return date.fromisoformat(text).toordinal()
