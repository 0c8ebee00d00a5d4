"""The synthetic population: households, histories, documents, certificates, registrations.

Deterministic for (seed, as-of date): the same arguments write the same bytes.  Rows
are written straight to the CSV files (no per-row objects kept), so memory stays flat
however many members are asked for.  Proportions follow the issue: 協会けんぽ about
30%, 組合健保 23%, 共済 7%, 国保 (with 国保組合) 22%, 後期高齢者 16% (the share of the
age pyramid at 75 and over).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Generic, TypeVar

from core_ext import insurer_check_digit
from service.dataset import COLUMNS
from service.synth.lexicon import (
    AGE_BANDS,
    COMPANIES,
    FEMALE_NAMES,
    MALE_NAMES,
    MUNICIPALITY_STEMS,
    MUNICIPALITY_SUFFIXES,
    PREFECTURES,
    SURNAMES,
    TRADES,
)

T = TypeVar("T")
DEFAULT_AS_OF = date(2026, 11, 1)
NO_LEGACY_FROM = date(2024, 12, 2).toordinal()
LATE_ELDERLY_START = date(2008, 4, 1).toordinal()
MYNA_REGISTRATION_START = date(2021, 10, 20).toordinal()
YEAR = 365
FIVE_YEARS = 1826
HOUSEHOLD_SIZES = ((1, 35), (2, 30), (3, 15), (4, 14), (5, 6))
# Plan of a household whose head is 20-64 / 65-74 (後期 comes from age alone).
PLANS_WORKING = (("kenpo", 42), ("kumiai", 33), ("kyosai", 10), ("kokuho", 13), ("kokuho_kumiai", 2))
PLANS_RETIRED = (("kenpo", 22), ("kumiai", 12), ("kyosai", 4), ("kokuho", 60), ("kokuho_kumiai", 2))
# Heads of households are drawn from the adult bands; people of 75 and over more often
# live alone or as a couple, so their bands weigh more (this keeps 後期 near 16%).
ELDERLY_HEAD_WEIGHT = 1.4
EMPLOYER_PLANS = ("kenpo", "kumiai", "kyosai")


def _insurer_number(body: str) -> str:
    return body + str(insurer_check_digit(body))


class Picker(Generic[T]):
    """Weighted choice by bisection over cumulative weights (faster than random.choices)."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(weights))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


@dataclass
class Insurer:
    number: str
    name: str
    cutoff: str  # legacy-card cut-off, YYYY-MM-DD
    kind: str
    next_number: int = 1

    def take_number(self) -> int:
        n = self.next_number
        self.next_number += 1
        return n


def make_insurers(rng: random.Random) -> dict[str, list[list[Insurer]]]:
    """Insurers by kind and prefecture (index 0-46); national ones under every prefecture."""
    by_kind: dict[str, list[list[Insurer]]] = {
        k: [[] for _ in PREFECTURES]
        for k in ("kenpo", "kumiai", "kyosai", "kokuho", "kokuho_kumiai", "kouki")
    }
    national_kyosai = [
        Insurer(_insurer_number(f"31{13:02d}{i:03d}"), f"{name}共済組合", "2025-12-01", "kyosai")
        for i, name in enumerate(("財務省", "文部科学省", "厚生労働省", "国土交通省"), start=1)
    ] + [Insurer(_insurer_number("3413001"), "日本私立学校振興・共済事業団", "2025-12-01", "kyosai")]
    for p, (pref, weight) in enumerate(PREFECTURES):
        code = p + 1
        short = pref.rstrip("都府県") if pref != "北海道" else pref
        by_kind["kenpo"][p].append(
            Insurer(
                _insurer_number(f"01{code:02d}001"), f"全国健康保険協会{short}支部", "2025-12-01", "kenpo"
            )
        )
        by_kind["kouki"][p].append(
            Insurer(
                _insurer_number(f"39{code:02d}001"), f"{pref}後期高齢者医療広域連合", "2025-07-31", "kouki"
            )
        )
        for i in range(max(2, weight // 8)):
            company = COMPANIES[(p * 7 + i) % len(COMPANIES)]
            by_kind["kumiai"][p].append(
                Insurer(
                    _insurer_number(f"06{code:02d}{i + 1:03d}"),
                    f"{company}{short}健康保険組合",
                    "2025-12-01",
                    "kumiai",
                )
            )
        by_kind["kyosai"][p] += [
            Insurer(_insurer_number(f"32{code:02d}001"), f"{pref}市町村職員共済組合", "2025-12-01", "kyosai"),
            Insurer(_insurer_number(f"33{code:02d}001"), f"{pref}警察職員共済組合", "2025-12-01", "kyosai"),
            *national_kyosai,
        ]
        for i in range(max(3, weight // 4)):
            stem = MUNICIPALITY_STEMS[(p + i) % len(MUNICIPALITY_STEMS)]
            suffix = MUNICIPALITY_SUFFIXES[i % len(MUNICIPALITY_SUFFIXES)]
            # Most municipalities ended legacy cards with 後期 (2025-07-31); some on 2025-09-30.
            cutoff = ("2025-07-31", "2025-07-31", "2025-09-30", "2025-12-01")[rng.randrange(4)]
            by_kind["kokuho"][p].append(
                Insurer(
                    _insurer_number(f"{code:02d}{i + 1:03d}"), f"{stem}{suffix}国民健康保険", cutoff, "kokuho"
                )
            )
        for i, trade in enumerate(TRADES[: 2 + weight // 40]):
            by_kind["kokuho_kumiai"][p].append(
                Insurer(
                    _insurer_number(f"{code:02d}{300 + i:03d}"),
                    f"{pref}{trade}国民健康保険組合",
                    "2025-12-01",
                    "kokuho_kumiai",
                )
            )
    return by_kind


class Files:
    """The seven CSV files, written through line buffers."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.handles: dict[str, IO[str]] = {}
        self.buffers: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}
        for name, columns in COLUMNS.items():
            handle = (out / name).open("w", encoding="utf-8", newline="")
            handle.write(",".join(columns) + "\n")
            self.handles[name] = handle
            self.buffers[name] = []
            self.counts[name] = 0

    def add(self, name: str, line: str) -> None:
        buffer = self.buffers[name]
        buffer.append(line)
        if len(buffer) >= 50_000:
            self._flush(name)

    def _flush(self, name: str) -> None:
        self.handles[name].write("".join(self.buffers[name]))
        self.counts[name] += len(self.buffers[name])
        self.buffers[name].clear()

    def close(self) -> dict[str, int]:
        for name in self.handles:
            self._flush(name)
            self.handles[name].close()
        return dict(self.counts)


def serial_for(person_id: int) -> str:
    """A 16-hex-digit certificate serial, unique per person (an odd multiplier is a bijection mod 2^64)."""
    return f"{(person_id * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF:016X}"


class Synth:
    """Writes one synthetic population; see `run`."""

    def __init__(self, seed: int, as_of: date, out: Path) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.as_of = as_of.toordinal()
        self.out = out
        self.files = Files(out)
        self.iso_cache: dict[int, str] = {}
        self.person_id = 0
        self.qual_id = 0
        self.doc_id = 0
        self.insurers = make_insurers(self.rng)
        self.prefectures = Picker(range(len(PREFECTURES)), [w for _, w in PREFECTURES])
        bands = list(range(len(AGE_BANDS)))
        self.ages = Picker(bands, AGE_BANDS)
        adult = [w * (ELDERLY_HEAD_WEIGHT if band >= 15 else 1.0) for band, w in enumerate(AGE_BANDS)]
        self.adult_ages = Picker(bands[4:], adult[4:])
        self.sizes = Picker([s for s, _ in HOUSEHOLD_SIZES], [w for _, w in HOUSEHOLD_SIZES])
        self.working = Picker([k for k, _ in PLANS_WORKING], [w for _, w in PLANS_WORKING])
        self.retired = Picker([k for k, _ in PLANS_RETIRED], [w for _, w in PLANS_RETIRED])
        self.surnames = Picker(SURNAMES, [w for *_, w in SURNAMES])
        self.male = Picker(MALE_NAMES, [w for *_, w in MALE_NAMES])
        self.female = Picker(FEMALE_NAMES, [w for *_, w in FEMALE_NAMES])

    # ------------------------------------------------------------------ helpers

    def iso(self, day: int | None) -> str:
        if day is None:
            return ""
        text = self.iso_cache.get(day)
        if text is None:
            text = self.iso_cache[day] = date.fromordinal(day).isoformat()
        return text

    def age_years(self, band_picker: Picker[int]) -> int:
        return band_picker.pick(self.rng) * 5 + self.rng.randrange(5)

    def birth_for(self, age: int) -> int:
        return self.as_of - age * YEAR - self.rng.randrange(YEAR)

    @staticmethod
    def birthday(birth: int, years: int) -> int:
        b = date.fromordinal(birth)
        try:
            return date(b.year + years, b.month, b.day).toordinal()
        except ValueError:  # 29 February in a common year
            return date(b.year + years, 3, 1).toordinal()

    # ------------------------------------------------------------------ people

    def new_person(self, age: int, sex: int, surname: tuple[str, str, int]) -> tuple[int, int]:
        rng = self.rng
        self.person_id += 1
        pid = self.person_id
        given = (self.male if sex == 1 else self.female).pick(rng)
        birth = self.birth_for(age)
        kana = f"{surname[1]} {given[1]}"
        self.files.add("persons.csv", f"{pid},{surname[0]} {given[0]},{kana},{sex},{self.iso(birth)}\n")
        return pid, birth

    def card_and_registration(self, pid: int) -> bool:
        """A My Number card for ~80%, registered as insurance card for ~65%; returns registered."""
        rng = self.rng
        if rng.random() >= 0.80:
            return False
        issued = self.as_of - rng.randrange(FIVE_YEARS + 80)  # a few expired, within the grace period
        revoked = issued + rng.randrange(1, 900) if rng.random() < 0.01 else None
        revoked = revoked if revoked is not None and revoked <= self.as_of else None
        face_only = "1" if rng.random() < 0.01 else "0"
        self.files.add(
            "certificates.csv",
            f"{serial_for(pid)},{pid},{self.iso(issued)},{self.iso(issued + FIVE_YEARS)},"
            f"{self.iso(revoked)},{face_only}\n",
        )
        if rng.random() >= 0.9 or revoked is not None:
            return False
        registered = max(issued, MYNA_REGISTRATION_START) + rng.randrange(400)
        if registered > self.as_of:
            return False
        requested = None
        if rng.random() < 0.02:
            requested = min(self.as_of, registered + rng.randrange(30, 700))
        self.files.add("registrations.csv", f"{pid},{self.iso(registered)},{self.iso(requested)}\n")
        return requested is None

    # ----------------------------------------------------------- qualifications

    def qualification(
        self,
        pid: int,
        insurer: Insurer,
        symbol: str,
        number: str,
        branch: str,
        relationship: int,
        acquired: int,
        lost: int | None,
        age: int,
        registered: bool,
        late: bool = False,
    ) -> None:
        rng = self.rng
        self.qual_id += 1
        qid = self.qual_id
        roll = rng.random()
        income = "general" if roll < 0.80 else ("middle" if roll < 0.92 else "high")
        limit = ""
        if rng.random() < 0.5:
            limit = f"B{rng.randrange(1, 11):02d}" if age >= 70 else f"A{rng.randrange(1, 6):02d}"
        self.files.add(
            "qualifications.csv",
            f"{qid},{pid},{insurer.number},{symbol},{number},{branch},{relationship},"
            f"{self.iso(acquired)},{self.iso(lost)},{income},{limit}\n",
        )
        self.documents(qid, insurer, acquired, lost, registered, late)

    def document(self, qid: int, kind: str, issued: int, until: int | None, void: int | None) -> None:
        if issued > self.as_of:
            return
        self.doc_id += 1
        self.files.add(
            "documents.csv",
            f"{self.doc_id},{qid},{kind},{self.iso(issued)},{self.iso(until)},{self.iso(void)}\n",
        )

    def documents(
        self, qid: int, insurer: Insurer, acquired: int, lost: int | None, registered: bool, late: bool
    ) -> None:
        """RULES.md §5: legacy cards before 2024-12-02, then 資格確認書 or お知らせ."""
        rng = self.rng
        if acquired < NO_LEGACY_FROM:
            self.document(
                qid,
                "legacy_card",
                acquired + rng.randrange(0, 14) if acquired + 14 < NO_LEGACY_FROM else acquired,
                None,
                lost,
            )
        in_force_after_cutoff = lost is None or lost > NO_LEGACY_FROM
        if not in_force_after_cutoff:
            return
        if late:
            first = max(acquired, date(2025, 8, 1).toordinal())
            self.document(qid, "eligibility_certificate", first, date(2026, 7, 31).toordinal(), lost)
            self.document(
                qid,
                "eligibility_certificate",
                max(acquired, date(2026, 7, 15).toordinal()),
                date(2027, 7, 31).toordinal(),
                lost,
            )
        elif not registered:
            cutoff = date.fromisoformat(insurer.cutoff).toordinal()
            issued = max(acquired, min(cutoff, NO_LEGACY_FROM if acquired >= NO_LEGACY_FROM else cutoff))
            self.document(
                qid, "eligibility_certificate", issued, issued + rng.randrange(YEAR, FIVE_YEARS), lost
            )
        elif acquired >= NO_LEGACY_FROM:
            self.document(qid, "info_notice", acquired + rng.randrange(0, 14), None, lost)

    # ----------------------------------------------------------------- households

    def pick_insurer(self, kind: str, pref: int) -> Insurer:
        choices = self.insurers[kind][pref]
        return choices[self.rng.randrange(len(choices))]

    def key_for(self, insurer: Insurer) -> tuple[str, str]:
        """(symbol, number) of a new household key, unique within the insurer."""
        rng = self.rng
        n = insurer.take_number()
        if insurer.kind == "kouki":
            return "", f"{n:08d}"
        if insurer.kind == "kenpo":
            return f"{rng.randrange(10_000_000, 99_999_999)}", str(n)
        if insurer.kind in ("kumiai", "kyosai"):
            return str(rng.randrange(1, 400)), str(n)
        if rng.random() < 0.5:
            return MUNICIPALITY_STEMS[rng.randrange(len(MUNICIPALITY_STEMS))], str(n)
        return f"{rng.randrange(1, 99)}-{rng.randrange(1, 999)}", str(n)

    def late_elderly(self, pid: int, birth: int, age: int, pref: int, registered: bool) -> None:
        """後期高齢者 from the 75th birthday, after a 国保 or employer qualification that ended then."""
        rng = self.rng
        start = max(self.birthday(birth, 75), LATE_ELDERLY_START)
        before_kind = "kokuho" if rng.random() < 0.75 else EMPLOYER_PLANS[rng.randrange(3)]
        before = self.pick_insurer(before_kind, pref)
        symbol, number = self.key_for(before)
        earlier = min(start - 1, self.birthday(birth, 60 + rng.randrange(6)))
        if start > self.as_of:  # turns 75 in a few days: still in the old plan today
            self.qualification(pid, before, symbol, number, "00", 1, earlier, None, 74, registered)
            return
        self.qualification(pid, before, symbol, number, "00", 1, earlier, start, 74, registered)
        kouki = self.pick_insurer("kouki", pref)
        symbol, number = self.key_for(kouki)
        lost = None
        if rng.random() < 0.03:  # died (or moved onto welfare) in the last two years
            lost = self.as_of - rng.randrange(1, 700)
            lost = lost if lost > start else None
        self.qualification(pid, kouki, symbol, number, "", 1, start, lost, age, registered, late=True)

    def household(self) -> int:
        """One household; returns the number of members written."""
        rng = self.rng
        pref = self.prefectures.pick(rng)
        surname = self.surnames.pick(rng)
        head_age = self.age_years(self.adult_ages)
        size = self.sizes.pick(rng)
        members: list[tuple[int, int]] = [(head_age, 1 if rng.random() < 0.6 else 2)]
        if size >= 2 and head_age >= 22:
            members.append((max(20, head_age + rng.randrange(-5, 6)), 3 - members[0][1]))
        while len(members) < size and head_age >= 22:
            members.append((rng.randrange(0, min(25, head_age - 20) + 1), 1 + rng.randrange(2)))
        written = []
        for age, sex in members:
            pid, birth = self.new_person(age, sex, surname)
            registered = self.card_and_registration(pid)
            written.append((pid, birth, age, registered))
        late = [m for m in written if m[2] >= 75]
        rest = [m for m in written if m[2] < 75]
        for pid, birth, age, registered in late:
            self.late_elderly(pid, birth, age, pref, registered)
        if rest:
            self.insured_household(rest, pref)
        return len(written)

    def insured_household(self, members: list[tuple[int, int, int, bool]], pref: int) -> None:
        """The head (eldest) insured, dependants under the same symbol and number."""
        rng = self.rng
        members.sort(key=lambda m: -m[2])
        head_age = members[0][2]
        kind = (self.retired if head_age >= 65 else self.working).pick(rng)
        if head_age < 18:
            kind = "kokuho"
        insurer = self.pick_insurer(kind, pref)
        start = self.as_of - rng.randrange(0, max(1, min(head_age - 17, 30)) * YEAR)
        history: list[tuple[Insurer, int, int | None]] = []
        if kind in EMPLOYER_PLANS and head_age >= 25 and rng.random() < 0.25:
            # A job change: the old plan ends on `change`; the new one starts the same day,
            # after a gap, or a few days early (an overlap).
            change = self.as_of - rng.randrange(30, 6 * YEAR)
            roll = rng.random()
            shift = 0 if roll < 0.6 else (rng.randrange(1, 31) if roll < 0.85 else -rng.randrange(1, 4))
            previous = self.pick_insurer(EMPLOYER_PLANS[rng.randrange(3)], pref)
            if previous is not insurer:
                history.append((previous, min(start, change - YEAR), change))
                start = change + shift
        elif kind == "kokuho" and head_age >= 62 and rng.random() < 0.5:
            retired = self.birthday(members[0][1], 60 + rng.randrange(3))
            if retired < self.as_of:
                previous = self.pick_insurer(EMPLOYER_PLANS[rng.randrange(3)], pref)
                history.append((previous, retired - rng.randrange(5, 30) * YEAR, retired))
                start = retired
        history.append((insurer, start, None))
        rejoin = len(members) == 1 and kind == "kokuho" and rng.random() < 0.02
        for plan, acquired_from, lost in history:
            symbol, number = self.key_for(plan)
            for branch, (pid, birth, age, registered) in enumerate(members):
                acquired = max(acquired_from, birth)
                if lost is not None and acquired >= lost:
                    continue
                relationship = 1 if branch == 0 else 2
                if rejoin and lost is None:
                    # Left (e.g. moved away) and came back under the same key.
                    left = acquired + rng.randrange(30, 300)
                    back = left + rng.randrange(30, 400)
                    if back < self.as_of:
                        self.qualification(
                            pid,
                            plan,
                            symbol,
                            number,
                            f"{branch:02d}",
                            relationship,
                            acquired,
                            left,
                            age,
                            registered,
                        )
                        acquired = back
                self.qualification(
                    pid, plan, symbol, number, f"{branch:02d}", relationship, acquired, lost, age, registered
                )

    # --------------------------------------------------------------------- run

    def institutions(self, count: int) -> list[tuple[str, str]]:
        """`count` clinics, dentists and pharmacies with working API keys: (code, key)."""
        kinds = ("クリニック", "歯科医院", "薬局", "病院")
        issued = []
        for i in range(count):
            pref = i % len(PREFECTURES) + 1
            body = f"{pref:02d}{1 + i % 4}{i:06d}"
            code = body + str(insurer_check_digit(body))
            key = f"synth-{self.seed}-{i:05d}-" + hashlib.sha256(f"{self.seed}:{i}".encode()).hexdigest()[:24]
            name = f"{MUNICIPALITY_STEMS[i % len(MUNICIPALITY_STEMS)]}{kinds[i % 4]}{i + 1}"
            self.files.add("institutions.csv", f"{code},{name},{key}\n")
            issued.append((code, key))
        return issued

    def run(self, members: int) -> dict[str, int]:
        written = 0
        while written < members:
            written += self.household()
        for kind in self.insurers.values():
            seen = set()
            for per_pref in kind:
                for ins in per_pref:
                    if ins.number not in seen:
                        seen.add(ins.number)
                        self.files.add("insurers.csv", f"{ins.number},{ins.name},{ins.cutoff}\n")
        self.institutions(max(10, min(1000, members // 2000)))
        return self.files.close()
