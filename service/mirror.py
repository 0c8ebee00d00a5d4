"""Every row in memory by key, with what changed since the last full snapshot build.

The change follower applies database changes here.  A full snapshot rebuild costs
seconds at national scale, so between rebuilds a small overlay snapshot answers
for everything a change can affect:

- the dirty persons (a row of theirs, or of their qualifications' documents, changed);
- every key (insurer, symbol, number) of a dirty person's qualifications, old or new,
  and every certificate serial of theirs, old or new, is routed to the overlay;
- the overlay holds, for each routed key, every qualification with that key and
  all rows of those qualifications' persons, so its answers equal those of a full
  rebuild (tests/service/test_overlay.py checks this against random changes).

Insurer changes are rare and shift insurer indexes: they ask for a full rebuild.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from core_ext._build import QualificationRow, SnapshotData, Tables
from service.dataset import DataSet
from service.db.rows import BY_TABLE, TABLES

Key = tuple[str, str, str]  # insurer number, symbol, number (canonical)
CoreKey = tuple[int, bytes, bytes]  # insurer index, symbol and number as UTF-8


def _key(q: QualificationRow) -> Key:
    return (q.insurer_number, q.symbol, q.number)


@dataclass
class Dirty:
    """What changed since the base snapshot was built."""

    persons: set[int] = field(default_factory=set)
    keys: set[Key] = field(default_factory=set)
    serials: set[str] = field(default_factory=set)
    insurers: bool = False  # insurer indexes may have moved: rebuild in full

    def __bool__(self) -> bool:
        return bool(self.persons or self.keys or self.serials or self.insurers)


class Mirror:
    """Rows by primary key (`rows[table][key]`), indexes, and the `dirty` set."""

    def __init__(self) -> None:
        self.seq = 0
        self.rows: dict[str, dict[Any, Any]] = {t: {} for t in TABLES}
        self.quals_of_person: defaultdict[int, set[int]] = defaultdict(set)
        self.quals_of_key: defaultdict[Key, set[int]] = defaultdict(set)
        self.docs_of_qual: defaultdict[int, set[int]] = defaultdict(set)
        self.certs_of_person: defaultdict[int, set[str]] = defaultdict(set)
        self.dirty = Dirty()

    # ------------------------------------------------------------------ changes

    def put(self, table: str, row: Any, key: Any) -> None:
        """Insert or replace one row (a `Tables` row type, or an institutions tuple)."""
        self.remove(table, key)
        self.rows[table][key] = row
        self._index(table, row, add=True)

    def load(self, table: str, rows: list[Any], keys: list[Any]) -> None:
        """Bulk insert into an empty table (the initial load): indexes, no dirty marks."""
        self.rows[table] = dict(zip(keys, rows, strict=True))
        if table == "qualifications":
            for q in rows:
                self.quals_of_person[q.person_id].add(q.qualification_id)
                self.quals_of_key[_key(q)].add(q.qualification_id)
        elif table == "documents":
            for d in rows:
                self.docs_of_qual[d.qualification_id].add(d.document_id)
        elif table == "certificates":
            for c in rows:
                self.certs_of_person[c.person_id].add(c.certificate_serial)

    def remove(self, table: str, key: Any) -> None:
        old = self.rows[table].pop(key, None)
        if old is not None:
            self._index(table, old, add=False)

    def _index(self, table: str, row: Any, add: bool) -> None:
        dirty = self.dirty
        if table == "insurers":
            dirty.insurers = True
        elif table == "persons":
            dirty.persons.add(row.person_id)
        elif table == "qualifications":
            _toggle(self.quals_of_person[row.person_id], row.qualification_id, add)
            _toggle(self.quals_of_key[_key(row)], row.qualification_id, add)
            dirty.persons.add(row.person_id)
            dirty.keys.add(_key(row))
        elif table == "documents":
            _toggle(self.docs_of_qual[row.qualification_id], row.document_id, add)
            q = self.rows["qualifications"].get(row.qualification_id)
            if q is not None:
                dirty.persons.add(q.person_id)
        elif table == "certificates":
            _toggle(self.certs_of_person[row.person_id], row.certificate_serial, add)
            dirty.persons.add(row.person_id)
            dirty.serials.add(row.certificate_serial)
        elif table == "registrations":
            dirty.persons.add(row.person_id)

    def rebuilt(self) -> None:
        """A full snapshot now reflects every row: nothing is dirty any more."""
        self.dirty = Dirty()

    # --------------------------------------------------------------- snapshots

    def dataset(self) -> DataSet:
        """Every row as a data set (already valid: rows were validated on the way in)."""
        tables = Tables(**{t: list(self.rows[t].values()) for t in BY_TABLE})
        return DataSet(tables, *self.institutions())

    def institutions(self) -> tuple[dict[str, str], dict[str, str]]:
        """(key hash -> institution code, code -> name)."""
        rows = self.rows["institutions"].values()
        return {digest: code for code, _n, digest in rows}, {code: name for code, name, _d in rows}

    def overlay(self) -> tuple[Tables, set[Key], set[str]]:
        """The overlay's rows and the keys and serials it must answer for (see the module doc)."""
        quals = self.rows["qualifications"]
        keys = set(self.dirty.keys)
        serials = set(self.dirty.serials)
        for p in self.dirty.persons:
            keys.update(_key(quals[q]) for q in self.quals_of_person.get(p, ()))
            serials.update(self.certs_of_person.get(p, ()))
        persons = set(self.dirty.persons)
        for k in keys:
            persons.update(quals[q].person_id for q in self.quals_of_key.get(k, ()))
        for s in serials:
            cert = self.rows["certificates"].get(s)
            if cert is not None:
                persons.add(cert.person_id)
        people = self.rows["persons"]
        present = sorted(p for p in persons if p in people)
        overlay_quals = [quals[q] for p in present for q in sorted(self.quals_of_person.get(p, ()))]
        docs = self.rows["documents"]
        tables = Tables(
            insurers=list(self.rows["insurers"].values()),  # same order as the base: same indexes
            persons=[people[p] for p in present],
            qualifications=overlay_quals,
            documents=[
                docs[d] for q in overlay_quals for d in sorted(self.docs_of_qual.get(q.qualification_id, ()))
            ],
            certificates=[
                self.rows["certificates"][s] for p in present for s in sorted(self.certs_of_person.get(p, ()))
            ],
            registrations=[self.rows["registrations"][p] for p in present if p in self.rows["registrations"]],
        )
        return tables, keys, serials


def _toggle(members: set[Any], value: Any, add: bool) -> None:
    if add:
        members.add(value)
    else:
        members.discard(value)


def routed(
    base: SnapshotData, keys: set[Key], serials: set[str]
) -> tuple[set[tuple[int, bytes, bytes]], set[bytes]]:
    """Keys and serials in the form the cores compare (insurer index in `base`, UTF-8 bytes)."""
    index = base.insurer_index
    core_keys = {(index[i], s.encode(), n.encode()) for i, s, n in keys if i in index}
    return core_keys, {s.encode() for s in serials}
