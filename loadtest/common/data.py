"""Members, certificates and institutions drawn from the CSV data set named by ONSHI_DATA.

Read once per locust process (every simulated clinic shares it).  Only what a reception
system would know is kept: the identifiers printed on a member's documents, the
serials of registered My Number cards, and each institution's code and API key.
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Member:
    insurer_number: str
    symbol: str
    number: str
    branch: str
    birthdate: str
    documents: tuple[str, ...]  # kinds issued for this qualification


@dataclass(frozen=True)
class DataSet:
    members: list[Member]
    serials: list[str]
    institutions: list[tuple[str, str]]  # (institution_code, api_key)


def _rows(folder: Path, name: str) -> csv.DictReader[str]:
    return csv.DictReader((folder / name).open(encoding="utf-8-sig", newline=""))


@cache
def load(folder: str | None = None, limit: int = 200_000) -> DataSet:
    """The data set in `folder` (default: $ONSHI_DATA), at most `limit` members sampled."""
    path = Path(folder or os.environ.get("ONSHI_DATA") or "")
    if not (path / "qualifications.csv").is_file():
        raise SystemExit("set ONSHI_DATA to a CSV data set folder (onshi synth --members 200000 --out DIR)")
    births = {row["person_id"]: row["birthdate"] for row in _rows(path, "persons.csv")}
    kinds: dict[str, list[str]] = {}
    for row in _rows(path, "documents.csv"):
        kinds.setdefault(row["qualification_id"], []).append(row["kind"])
    members = [
        Member(
            row["insurer_number"],
            row["symbol"],
            row["number"],
            row["branch"],
            births[row["person_id"]],
            tuple(sorted(set(kinds.get(row["qualification_id"], ())))),
        )
        for row in _rows(path, "qualifications.csv")
        if not row["lost_on"]  # in force as far as the data set knows
    ]
    registered = {row["person_id"] for row in _rows(path, "registrations.csv")}
    serials = [
        row["certificate_serial"] for row in _rows(path, "certificates.csv") if row["person_id"] in registered
    ]
    institutions = [(row["institution_code"], row["api_key"]) for row in _rows(path, "institutions.csv")]
    rng = random.Random(1)
    if len(members) > limit:
        members = rng.sample(members, limit)
    return DataSet(members, serials, institutions)
