"""The confirmations a clinic sends during a day, as request bodies."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from .data import DataSet, Member


def card(data: DataSet, rng: random.Random) -> dict[str, Any]:
    """マイナ保険証 at the face-authentication reader (now and then a PIN)."""
    return {
        "presented": "myna_card",
        "certificate_serial": rng.choice(data.serials),
        "auth_method": "face" if rng.random() < 0.9 else "pin",
    }


def number_path(member: Member, rng: random.Random, on: date | None = None) -> dict[str, Any]:
    """A member identified by the numbers on a document they show (or none named)."""
    presented = "unspecified"  # a reception system that does not record what was shown
    roll = rng.random()
    if roll < 0.05 and "legacy_card" in member.documents:
        presented = "legacy_card"  # rare since the cut-offs of 2025: most are expired
    elif roll < 0.55 and "eligibility_certificate" in member.documents:
        presented = "eligibility_certificate"
    elif roll < 0.75 and "info_notice" in member.documents:
        presented = "info_notice"
    body: dict[str, Any] = {
        "presented": presented,
        "insurer_number": member.insurer_number,
        "symbol": member.symbol,
        "number": member.number,
        "birthdate": member.birthdate,
    }
    if member.branch:
        body["branch"] = member.branch
    if presented == "info_notice":
        body["identity_verified"] = True  # shown together with the My Number card
    if on is not None:
        body["confirmation_date"] = on.isoformat()
    return body


def appointments(data: DataSet, rng: random.Random, today: date) -> list[dict[str, Any]]:
    """Tomorrow's appointments, checked the day before (一括照会): 20 to 200 patients."""
    tomorrow = today + timedelta(days=1)
    return [number_path(rng.choice(data.members), rng, tomorrow) for _ in range(rng.randint(20, 200))]


def odd(data: DataSet, rng: random.Random) -> tuple[dict[str, Any], set[int]]:
    """A malformed or unknown request and the statuses that are the right answer to it."""
    member = rng.choice(data.members)
    body = number_path(member, rng)
    choice = rng.randrange(4)
    if choice == 0:  # a number typed as a JSON number: FORMAT
        body["number"] = 12345
        return body, {422}
    if choice == 1:  # a mistyped insurer number (check digit)
        digits = body["insurer_number"]
        body["insurer_number"] = digits[:-1] + str((int(digits[-1]) + 1) % 10)
        return body, {422}
    if choice == 2:  # nobody has this number
        body["number"] = "9" + body["number"] + "9"
        return body, {200}
    return {"presented": "myna_card", "certificate_serial": "XYZ", "auth_method": "face"}, {422}
