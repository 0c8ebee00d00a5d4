"""A generated demonstration population: households, histories, documents, certificates.

Fixed seed, dates relative to today in Japan, so most members are insured today and
every code of RULES.md §4 can be met.  Rows go through the same validator as CSV
files.  The nationwide generator is `onshi synth` (service/synth/).
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta
from typing import Any

from core_ext import insurer_check_digit
from service.clock import tokyo_today
from service.dataset import FILES, DataSet, Row, validate

SEED = 20241202
DEMO_INSTITUTION = "1310000019"
DEMO_API_KEY = "demo-" + hashlib.sha256(f"onshi-demo-{SEED}".encode()).hexdigest()[:40]
NO_LEGACY_FROM = date(2024, 12, 2)

SURNAMES = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
]
MALE = [("太郎", "タロウ"), ("翔", "ショウ"), ("健一", "ケンイチ"), ("大輔", "ダイスケ"), ("蓮", "レン")]
FEMALE = [("花子", "ハナコ"), ("陽菜", "ヒナ"), ("美咲", "ミサキ"), ("恵子", "ケイコ"), ("結衣", "ユイ")]


def _insurer(body: str) -> str:
    return body + str(insurer_check_digit(body))


# (number, name, legacy-card cut-off, share of households)
INSURERS = [
    (_insurer("0113001"), "全国健康保険協会東京支部", "", 30),
    (_insurer("0613002"), "東都電機健康保険組合", "", 12),
    (_insurer("0627003"), "浪速商事健康保険組合", "", 11),
    (_insurer("3113001"), "東京都職員共済組合", "", 7),
    (_insurer("13101"), "千代田区国民健康保険", "2025-07-31", 12),
    (_insurer("27110"), "北浜市国民健康保険", "2025-07-31", 10),
    (_insurer("13330"), "東京建設国民健康保険組合", "2025-09-30", 2),
]
LATE_ELDERLY = (_insurer("3913001"), "東京都後期高齢者医療広域連合", "2025-07-31")


def _day(d: date) -> str:
    return d.isoformat()


def _birth_for_age(rng: random.Random, today: date, age: int) -> date:
    return today - timedelta(days=age * 365 + rng.randrange(365))


def demo_sources(members: int, today: date | None = None) -> dict[str, list[tuple[int, Row]]]:
    """Rows of all seven files for about `members` persons."""
    rng = random.Random(SEED)
    today = today or date.fromordinal(tokyo_today())
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in FILES}
    for number, name, cutoff, _ in [*INSURERS, (*LATE_ELDERLY, 0)]:
        rows["insurers.csv"].append(
            {"insurer_number": number, "name": name, "legacy_card_valid_until": cutoff}
        )
    rows["institutions.csv"] += [
        {"institution_code": DEMO_INSTITUTION, "name": "デモ診療所", "api_key": DEMO_API_KEY},
        {
            "institution_code": "1340000021",
            "name": "デモ薬局",
            "api_key": "demo-" + hashlib.sha256(b"pharmacy").hexdigest()[:40],
        },
    ]
    weights = [w for *_, w in INSURERS]
    pid = qid = did = 0
    registered_ids: set[int] = set()
    household = 0
    late_number = 10_000_000

    def person(surname: tuple[str, str], sex: int, birth: date) -> int:
        nonlocal pid
        pid += 1
        given = rng.choice(MALE if sex == 1 else FEMALE)
        rows["persons.csv"].append(
            {
                "person_id": pid,
                "name": f"{surname[0]} {given[0]}",
                "name_kana": f"{surname[1]} {given[1]}",
                "sex": sex,
                "birthdate": _day(birth),
            }
        )
        registered = rng.random() < 0.65
        if rng.random() < 0.8 or registered:
            issued = today - timedelta(days=rng.randrange(5 * 365))
            expires = issued + timedelta(days=5 * 365)
            revoked = issued + timedelta(days=30) if rng.random() < 0.01 else None
            rows["certificates.csv"].append(
                {
                    "certificate_serial": f"{pid:016X}",
                    "person_id": pid,
                    "issued_on": _day(issued),
                    "expires_on": _day(expires),
                    "revoked_on": _day(revoked) if revoked else "",
                    "face_only": "1" if rng.random() < 0.01 else "0",
                }
            )
            if registered:
                registered_ids.add(pid)
                reg = issued + timedelta(days=rng.randrange(60))
                dereg = today - timedelta(days=rng.randrange(200)) if rng.random() < 0.03 else None
                rows["registrations.csv"].append(
                    {
                        "person_id": pid,
                        "registered_on": _day(min(reg, today)),
                        "deregistration_requested_on": _day(dereg) if dereg else "",
                    }
                )
        return pid

    def documents(q: int, acquired: date, registered: bool, late: bool) -> None:
        nonlocal did
        if acquired < NO_LEGACY_FROM:
            did += 1
            rows["documents.csv"].append(
                {
                    "document_id": did,
                    "qualification_id": q,
                    "kind": "legacy_card",
                    "issued_on": _day(acquired),
                    "valid_until": "",
                    "void_from": "",
                }
            )
        if late or not registered:
            did += 1
            issued = max(acquired, date(2025, 7, 1))
            until = date(today.year + (1 if today.month > 7 else 0), 7, 31)
            rows["documents.csv"].append(
                {
                    "document_id": did,
                    "qualification_id": q,
                    "kind": "eligibility_certificate",
                    "issued_on": _day(min(issued, today)),
                    "valid_until": _day(until if late else issued + timedelta(days=5 * 365 - 1)),
                    "void_from": "",
                }
            )
        elif acquired >= NO_LEGACY_FROM:
            did += 1
            rows["documents.csv"].append(
                {
                    "document_id": did,
                    "qualification_id": q,
                    "kind": "info_notice",
                    "issued_on": _day(acquired),
                    "valid_until": "",
                    "void_from": "",
                }
            )

    def qualification(
        p: int,
        ins: str,
        symbol: str,
        number: str,
        branch: str,
        rel: int,
        acquired: date,
        lost: date | None,
        late: bool,
    ) -> None:
        nonlocal qid
        qid += 1
        rows["qualifications.csv"].append(
            {
                "qualification_id": qid,
                "person_id": p,
                "insurer_number": ins,
                "symbol": symbol,
                "number": number,
                "branch": branch,
                "relationship": rel,
                "acquired_on": _day(acquired),
                "lost_on": _day(lost) if lost else "",
                "income_class": rng.choices(["general", "middle", "high"], [80, 12, 8])[0],
                "limit_category": rng.choice(["A03", "A04", "A05"])
                if not late
                else rng.choice(["B08", "B09"]),
            }
        )
        documents(qid, acquired, p in registered_ids, late)

    while pid < members:
        household += 1
        surname = rng.choice(SURNAMES)
        head_age = rng.choices([25, 35, 45, 55, 65, 72, 80], [12, 18, 18, 16, 14, 8, 14])[0] + rng.randrange(
            8
        )
        head_sex = rng.choice((1, 2))
        head_birth = _birth_for_age(rng, today, head_age)
        head = person(surname, head_sex, head_birth)
        if head_age >= 75:
            late_number += 1
            turned75 = date(head_birth.year + 75, head_birth.month, min(head_birth.day, 28))
            qualification(head, LATE_ELDERLY[0], "", str(late_number), "", 1, turned75, None, True)
            continue
        ins = rng.choices([i[0] for i in INSURERS], weights)[0]
        symbol = f"{rng.randrange(1, 9999)}" if len(ins) == 8 else rng.choice(["千代田", "北浜", "建"])
        number = str(household)
        acquired = today - timedelta(days=rng.randrange(30, 15 * 365))
        if rng.random() < 0.15:  # a job change: an earlier qualification under another key
            old = rng.choices([i[0] for i in INSURERS], weights)[0]
            earlier = acquired - timedelta(days=rng.randrange(365, 3650))
            qualification(head, old, "9", f"{household}", "00", 1, earlier, acquired, False)
        lost = today + timedelta(days=rng.randrange(1, 60)) if rng.random() < 0.02 else None
        qualification(head, ins, symbol, number, "00", 1, acquired, lost, False)
        dependants = rng.choices([0, 1, 2, 3], [35, 25, 25, 15])[0] if head_age < 65 else rng.choice([0, 1])
        for branch in range(1, dependants + 1):
            if branch == 1:
                sex, birth = (
                    3 - head_sex,
                    _birth_for_age(rng, today, max(head_age - 2 + rng.randrange(4), 20)),
                )
            else:
                sex, birth = rng.choice((1, 2)), _birth_for_age(rng, today, rng.randrange(0, 18))
            member = person(surname, sex, birth)
            rel = 1 if len(ins) == 6 else 2
            qualification(
                member, ins, symbol, number, f"{branch:02d}", rel, max(acquired, birth), lost, False
            )
    return {
        name: [
            (i + 2, {k: str(v) if v != "" else None for k, v in row.items()}) for i, row in enumerate(table)
        ]
        for name, table in rows.items()
    }


def demo_dataset(members: int = 100_000, today: date | None = None) -> DataSet:
    """The validated demo data set."""
    return validate(demo_sources(members, today))  # type: ignore[arg-type]


def number_path_request(qualification: Row, birthdate: str | None) -> dict[str, Any]:
    """An `unspecified` number-path request for one demo qualification row."""
    return {
        "institution_code": DEMO_INSTITUTION,
        "presented": "unspecified",
        "insurer_number": qualification["insurer_number"],
        "symbol": qualification["symbol"] or "",
        "number": qualification["number"],
        "branch": qualification["branch"] or "",
        "birthdate": birthdate,
    }


def sample_request() -> dict[str, Any]:
    """A number-path request for the first demo household, for the printed curl line."""
    sources = demo_sources(1)
    q = [row for _, row in sources["qualifications.csv"] if row["person_id"] == "1"][-1]
    return number_path_request(q, sources["persons.csv"][0][1]["birthdate"])
