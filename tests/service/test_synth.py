"""`onshi synth`: deterministic, valid, realistic in the proportions and histories the issue asks for."""

from __future__ import annotations

import csv
import hashlib
import subprocess
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

import core_ext
from service.dataset import FILES, load_dir
from service.state import generation_of
from service.synth.generator import DEFAULT_AS_OF, Synth, serial_for
from tests.processes import ONSHI


def rows(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    Synth(11, DEFAULT_AS_OF, out).run(30_000)
    return out


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for name in FILES:
        h.update((folder / name).read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        Synth(seed, DEFAULT_AS_OF, tmp_path / name).run(2_000)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_passes_the_import_validator(population: Path) -> None:
    data = load_dir(population)
    assert len(data.tables.persons) >= 30_000
    assert len(data.institutions) >= 10


def law_kind(number: str) -> str:
    if len(number) == 6:
        return "kokuho"
    return {"01": "kenpo", "06": "kumiai", "39": "kouki"}.get(number[:2], "kyosai")


def test_proportions_by_law_code(population: Path) -> None:
    current = [q for q in rows(population, "qualifications.csv") if not q["lost_on"]]
    share = {k: v / len(current) for k, v in Counter(law_kind(q["insurer_number"]) for q in current).items()}
    targets = {"kenpo": 0.30, "kumiai": 0.23, "kyosai": 0.07, "kokuho": 0.22, "kouki": 0.16}
    for kind, target in targets.items():
        assert abs(share[kind] - target) < 0.04, share
    persons = len(rows(population, "persons.csv"))
    assert 0.77 < len(rows(population, "certificates.csv")) / persons < 0.83
    assert 0.60 < len(rows(population, "registrations.csv")) / persons < 0.70


def test_insurers_cover_every_prefecture_with_valid_cutoffs(population: Path) -> None:
    insurers = rows(population, "insurers.csv")
    national = [i for i in insurers if law_kind(i["insurer_number"]) in ("kenpo", "kouki")]
    prefectures = {i["insurer_number"][2:4] for i in national}
    assert prefectures == {f"{p:02d}" for p in range(1, 48)}
    cutoffs = Counter(i["legacy_card_valid_until"] for i in insurers)
    assert set(cutoffs) == {"2025-12-01", "2025-07-31", "2025-09-30"}
    kouki = [i for i in insurers if law_kind(i["insurer_number"]) == "kouki"]
    assert len(kouki) == 47 and all(i["legacy_card_valid_until"] == "2025-07-31" for i in kouki)


def test_histories_households_and_documents(population: Path) -> None:
    quals = rows(population, "qualifications.csv")
    by_person: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    by_key: defaultdict[tuple[str, str, str], set[str]] = defaultdict(set)
    for q in quals:
        by_person[q["person_id"]].append(q)
        by_key[(q["insurer_number"], q["symbol"], q["number"])].add(q["branch"])
    # Households: dependants share symbol and number under branches 00, 01, 02…
    assert any({"00", "01", "02"} <= branches for branches in by_key.values())
    overlaps = gaps = seamless = to_kouki = rejoins = 0
    for history in by_person.values():
        history.sort(key=lambda q: q["acquired_on"])
        for a, b in zip(history, history[1:], strict=False):
            if not a["lost_on"]:
                continue
            if (a["insurer_number"], a["symbol"], a["number"]) == (
                b["insurer_number"],
                b["symbol"],
                b["number"],
            ):
                rejoins += 1
            if (
                b["insurer_number"][:2] == "39"
                and len(b["insurer_number"]) == 8
                and a["lost_on"] == b["acquired_on"]
            ):
                to_kouki += 1
            elif b["acquired_on"] < a["lost_on"]:
                overlaps += 1
            elif b["acquired_on"] > a["lost_on"]:
                gaps += 1
            else:
                seamless += 1
    assert min(overlaps, gaps, seamless, to_kouki, rejoins) > 0, (overlaps, gaps, seamless, to_kouki, rejoins)
    docs = rows(population, "documents.csv")
    kinds = Counter(d["kind"] for d in docs)
    assert min(kinds.values()) > 100, kinds
    assert all(d["issued_on"] < "2024-12-02" for d in docs if d["kind"] == "legacy_card")
    assert any(d["void_from"] for d in docs if d["kind"] == "legacy_card")
    # Every late-elderly member in force has a 資格確認書.
    with_certificate = {d["qualification_id"] for d in docs if d["kind"] == "eligibility_certificate"}
    kouki_now = [q for q in quals if law_kind(q["insurer_number"]) == "kouki" and not q["lost_on"]]
    assert kouki_now and all(q["qualification_id"] in with_certificate for q in kouki_now)


def test_serials_are_unique_hex() -> None:
    serials = {serial_for(p) for p in range(1, 200_001)}
    assert len(serials) == 200_000
    assert all(len(s) == 16 and int(s, 16) >= 0 for s in list(serials)[:100])


def test_a_synthetic_member_is_confirmed_with_a_synthetic_key(population: Path) -> None:
    data = load_dir(population)
    gen = generation_of(*data.build())
    institution = rows(population, "institutions.csv")[0]
    person = {p["person_id"]: p for p in rows(population, "persons.csv")}
    q = next(q for q in rows(population, "qualifications.csv") if not q["lost_on"] and q["symbol"])
    body: dict[str, Any] = {
        "institution_code": institution["institution_code"],
        "presented": "unspecified",
        "insurer_number": q["insurer_number"],
        "symbol": q["symbol"],
        "number": q["number"],
        "branch": q["branch"],
        "birthdate": person[q["person_id"]]["birthdate"],
    }
    code = gen.institutions[hashlib.sha256(institution["api_key"].encode()).hexdigest()]
    today = DEFAULT_AS_OF.toordinal()
    status, answer = core_ext.Core(gen.core.data).confirm(orjson.dumps(body), code, today, "r", "t", b"{}")
    assert status == 200 and orjson.loads(answer)["code"] == "VALID", answer


def test_cli_reports_its_rate(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ONSHI), "synth", "--members", "3000", "--out", str(tmp_path / "d"), "--seed", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "members/min" in result.stdout
    assert (tmp_path / "d" / "institutions.csv").exists()
    assert date.fromisoformat("2026-11-01") == DEFAULT_AS_OF
