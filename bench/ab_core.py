"""Two builds of the compiled core side by side in one process: same answers, then alternating timings.

    python bench/ab_core.py A_DIR B_DIR [--members 100000,200000] [--rounds 9] [--count 100000]

A_DIR and B_DIR are checkouts with `core_ext` built (`python setup.py build_ext
--inplace`), e.g. a `git worktree` of the base commit and this one.  Both `_core`
extensions are loaded into this process and given the same snapshot and requests
(`bench/decide.py`'s workload), so a round of A and a round of B run back to back on
the same heap and the same machine minute: on this shared machine the noise between
processes is larger than most changes to the core.  Prints, per population size, the
medians of single calls and batch items and the per-round B/A ratios.  Not a test.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import sysconfig
from array import array
from dataclasses import fields
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decide import DEMO_INSTITUTION, SNAPSHOT, run_batch, run_single, workload  # noqa: E402

from core_ext._rows import LAYOUTS  # noqa: E402


def load_core(checkout: Path) -> ModuleType:
    """The `core_ext._core` extension built in `checkout`, as its own module object."""
    path = checkout / "core_ext" / f"_core{sysconfig.get_config_var('EXT_SUFFIX')}"
    spec = importlib.util.spec_from_file_location("core_ext._core", path)
    if spec is None or spec.loader is None or not path.exists():
        raise SystemExit(f"no built core at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def core_for(module: ModuleType, data: Any) -> Any:
    """module.Core(data); an older core gets what it reads, with the same values: a core
    from before the row-grouped snapshot (543b1c2) contiguous columns, and one from before
    key_next (format 4) the key index as group lists (`key_members`, slots naming groups)."""
    try:
        return module.Core(data)
    except (ValueError, BufferError, AttributeError):  # a strided column view; no key_members
        values = {f.name: getattr(data, f.name) for f in fields(data)}
        for layout in LAYOUTS:
            for name, (code, _) in layout.columns.items():
                values[name] = array(code, getattr(data, name))
        members, slots = array("i"), array("i", data.key_slots)
        for i, q in enumerate(data.key_slots):
            if q != -1:
                slots[i] = len(members)
                while q != -1:
                    members.append(q)
                    q = data.key_next[q]
                members[-1] = ~members[-1]
        values.update(key_members=members, key_slots=slots)
        return module.Core(SimpleNamespace(**values))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--members", default="100000,200000", help="demo population sizes, comma-separated")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--count", type=int, default=100_000, help="confirmations per round and mode")
    args = ap.parse_args()
    a, b = load_core(args.a), load_core(args.b)
    for members in (int(size) for size in args.members.split(",")):
        data, bodies, items, day = workload(args.count, members)
        cores = core_for(a, data), core_for(b, data)
        batch = orjson.dumps({"institution_code": DEMO_INSTITUTION, "items": items[:2_000]})
        answers = [
            [core.confirm(body, DEMO_INSTITUTION, day, "r", "t", SNAPSHOT) for body in bodies[:2_000]]
            + [core.confirm_batch(batch, DEMO_INSTITUTION, day, "r", "t", SNAPSHOT)]
            for core in cores
        ]
        if answers[0] != answers[1]:
            print(f"{members:,} members: A and B answer differently; not timed", file=sys.stderr)
            return 1
        times: dict[str, list[tuple[float, float]]] = {"single": [], "batch": []}
        for round_number in range(args.rounds):
            # A first in even rounds, B first in odd ones: whoever runs second finds the
            # caches as the first left them.
            order = (0, 1) if round_number % 2 == 0 else (1, 0)
            single = {k: run_single(cores[k], bodies, args.count, day) / args.count for k in order}
            batch_item = {k: run_batch(cores[k], items, args.count, day) for k in order}
            times["single"].append((single[0], single[1]))
            times["batch"].append((batch_item[0], batch_item[1]))
        for mode, pairs in times.items():
            ratios = [tb / ta for ta, tb in pairs]
            print(
                f"{members:>9,} members, {mode:6s}: A {statistics.median(t for t, _ in pairs) * 1e6:.3f} µs, "
                f"B {statistics.median(t for _, t in pairs) * 1e6:.3f} µs; B/A median "
                f"{statistics.median(ratios):.3f}, B faster in {sum(r < 1 for r in ratios)} of {len(ratios)} "
                f"rounds ({', '.join(f'{r:.2f}' for r in ratios)})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
