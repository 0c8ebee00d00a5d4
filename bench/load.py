"""Snapshot build from PostgreSQL: qualifications per second, compiled COPY-stream builder vs Python rows.

    python bench/load.py --database-url URL [--rounds 3] [--python]

The database must hold a data set (`onshi import DIR --database-url URL`).  Each
round times `rebuild_snapshot` with the compiled builder (and, with --python, the
Python builder over fetched rows); prints every round and the median.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.db.snapshot import rebuild_snapshot  # noqa: E402


async def once(url: str, compiled: bool) -> tuple[float, int]:
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        loaded = await rebuild_snapshot(conn, compiled=compiled)
        return time.perf_counter() - started, loaded.data.qualifications
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", action="store_true", help="also time the Python builder")
    args = parser.parse_args()
    builders = {"compiled": True, "python": False} if args.python else {"compiled": True}
    rates: dict[str, list[float]] = {name: [] for name in builders}
    for _ in range(args.rounds):
        for name, compiled in builders.items():
            seconds, quals = asyncio.run(once(args.database_url, compiled))
            rates[name].append(quals / seconds)
            print(
                f"{name:8} {quals:,} qualifications in {seconds:.2f} s = {quals / seconds:,.0f}/s", flush=True
            )
    for name, values in rates.items():
        print(f"median {name}: {statistics.median(values):,.0f} qualifications/s")


if __name__ == "__main__":
    main()
