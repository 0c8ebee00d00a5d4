"""Each simulated reception desk belongs to one institution and sends its key."""

from __future__ import annotations

import random

from .data import DataSet


def desk(data: DataSet, rng: random.Random) -> tuple[str, dict[str, str]]:
    """(institution_code, request headers) of a randomly chosen institution."""
    code, key = rng.choice(data.institutions)
    return code, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
