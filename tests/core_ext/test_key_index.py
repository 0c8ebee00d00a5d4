"""The key index: a slot names a key's first qualification row, key_next links the rest."""

from __future__ import annotations

from collections import defaultdict

import core_ext
from core_ext._build import text_at
from service.dataset import validate
from service.demo import demo_sources


def test_each_key_is_one_ascending_chain_from_its_slot() -> None:
    data = core_ext.snapshot(validate(demo_sources(400)).tables)
    by_key: defaultdict[tuple[int, bytes, bytes], list[int]] = defaultdict(list)
    for q in range(data.qualifications):
        key = (
            data.q_insurer[q],
            text_at(data.arena, data.q_symbol[q]),
            text_at(data.arena, data.q_number[q]),
        )
        by_key[key].append(q)
    assert any(len(rows) > 1 for rows in by_key.values())  # households share a key
    chains = []
    for q in data.key_slots:
        if q == -1:
            continue
        chain = [q]
        while data.key_next[chain[-1]] != -1:
            chain.append(data.key_next[chain[-1]])
        chains.append(chain)
    assert sorted(chains) == sorted(by_key.values())  # every row once, in its key's chain, ascending
    assert len(data.key_next) == data.qualifications
