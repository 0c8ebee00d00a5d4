"""Onshi's hot path against the HTTP floor, with wrk on loopback (`make bench`).

Serves the demo population (about 100,000 members), or the CSV data set given with
--data (e.g. 200,000 members from `onshi synth`), from Onshi with one worker, and the
same number-path request bodies from bench/floor_app.py (raw ASGI, orjson, dict) with
one worker, on plain uvicorn ("floor") and on Onshi's one-write uvicorn protocol
("floor-1w", bench/floor_serve.py); drives each with `wrk -t1 -c32`, alternating
rounds, and prints requests/s, p50/p99 and the ratios of medians.  Not a test: timings
on a shared machine are noisy.

    python bench/floor.py [--rounds 3] [--seconds 10] [--bodies 1000] [--data DIR]
                          [--database-url URL] [--frameworks] [--baseline ONSHI]

With --baseline (the `onshi` command of another checkout's .venv, e.g. a worktree of the
commit before a change) that build serves the same population as "baseline" in the
same alternating rounds, and the ratio of this build to it is printed.

With --database-url (a maintenance URL such as postgresql://postgres@127.0.0.1/postgres)
the same population is also imported into a scratch database, served by a third
server with `onshi serve --database-url`, and dropped afterwards: the hot path with
a database configured must be no slower than with --data.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.dataset import FILES, Row, read_csv  # noqa: E402
from service.demo import DEMO_API_KEY, DEMO_INSTITUTION, demo_sources, number_path_request  # noqa: E402

LUA = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/v1/confirmations", headers, bodies[i])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, seconds: float = 120, ready_only: bool = False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            if ready_only:  # 503 while loading
                time.sleep(0.2)
                continue
            return  # answering at all is enough
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not start")


def population(data: Path | None) -> tuple[dict[str, list[tuple[int, Row]]], str, str]:
    """(rows by file, institution code, API key): a CSV data set's, or the demo population's."""
    if data is None:
        return demo_sources(100_000), DEMO_INSTITUTION, DEMO_API_KEY
    sources = {name: list(read_csv(data / name)) for name in FILES}
    first = sources["institutions.csv"][0][1]
    return sources, str(first["institution_code"]), str(first["api_key"])


def number_path_bodies(
    sources: dict[str, list[tuple[int, Row]]], institution: str, count: int
) -> list[bytes]:
    """Number-path requests for random members (so lookups miss the CPU cache)."""
    birth = {row["person_id"]: row["birthdate"] for _, row in sources["persons.csv"]}
    quals = [row for _, row in sources["qualifications.csv"]]
    rng = random.Random(7)
    bodies = []
    for q in rng.sample(quals, count):
        request = number_path_request(q, birth[q["person_id"]])
        bodies.append(orjson.dumps({**request, "institution_code": institution}))
    return bodies


def import_population(maintenance_url: str, name: str, data: Path | None) -> str:
    """Create the scratch database and import the population (CSV folder or demo); return its URL."""
    import asyncio

    import asyncpg

    from service.dataset import load_dir
    from service.db.importer import import_dataset
    from service.db.migrate import migrate
    from service.demo import demo_dataset

    url = maintenance_url.rsplit("/", 1)[0] + "/" + name

    async def run() -> None:
        admin = await asyncpg.connect(maintenance_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        conn = await asyncpg.connect(url)
        await migrate(conn)
        await import_dataset(conn, load_dir(data) if data else demo_dataset())
        await conn.close()

    asyncio.run(run())
    return url


def drop_database(maintenance_url: str, name: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        admin = await asyncpg.connect(maintenance_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    asyncio.run(run())


def wrk(
    port: int, script: Path, seconds: int, threads: int = 1, connections: int = 32
) -> tuple[float, float, float]:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
        + [f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    if re.search(r"Non-2xx", out) or re.search(r"Socket errors", out):
        raise SystemExit("wrk saw errors:\n" + out)

    def pct(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rate, pct("50"), pct("99")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its children so far (Linux /proc)."""
    total = 0.0
    for task in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{task}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def children(pid: int) -> list[int]:
    try:
        found = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []
    return found + [g for c in found for g in children(c)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--bodies", type=int, default=1000)
    ap.add_argument("--data", type=Path, help="a CSV data set (e.g. from onshi synth) instead of the demo")
    ap.add_argument("--database-url", help="also serve the population from a scratch PostgreSQL database")
    ap.add_argument(
        "--frameworks",
        action="store_true",
        help="also FastAPI + pydantic, and (with --database-url) FastAPI + one asyncpg query per request",
    )
    ap.add_argument("--baseline", type=Path, help="another build's onshi command, measured alongside")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="onshi-bench-"))
    bodies = work / "bodies.jsonl"
    sources, institution, key = population(args.data)
    bodies.write_bytes(b"\n".join(number_path_bodies(sources, institution, args.bodies)) + b"\n")
    del sources
    script = work / "confirm.lua"
    script.write_text(LUA % {"bodies": bodies, "key": key})
    source = ["--data", str(args.data)] if args.data else ["--demo"]
    bin_dir = Path(sys.executable).parent
    ports = {"floor": free_port(), "floor-1w": free_port(), "onshi": free_port()}
    servers = {
        "floor": subprocess.Popen(
            [
                str(bin_dir / "uvicorn"),
                "floor_app:app",
                "--port",
                str(ports["floor"]),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT / "bench",
            env={**os.environ, "FLOOR_BODIES": str(bodies)},
        ),
        # The same app on Onshi's uvicorn protocol (one write per answer: service/transport.py).
        "floor-1w": subprocess.Popen(
            [sys.executable, "floor_serve.py", str(ports["floor-1w"])],
            cwd=ROOT / "bench",
            env={**os.environ, "FLOOR_BODIES": str(bodies)},
        ),
        "onshi": subprocess.Popen(
            [str(bin_dir / "onshi"), "serve", *source, "--port", str(ports["onshi"])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ONSHI_STATE_DIR": str(work / "state-demo")},
        ),
    }
    if args.baseline:
        ports["baseline"] = free_port()
        servers["baseline"] = subprocess.Popen(
            [str(args.baseline), "serve", *source, "--port", str(ports["baseline"])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ONSHI_STATE_DIR": str(work / "state-baseline")},
        )
    scratch = None
    if args.database_url:
        scratch = f"onshi_bench_{os.getpid()}"
        ports["onshi-db"] = free_port()
        servers["onshi-db"] = subprocess.Popen(
            [
                str(bin_dir / "onshi"),
                "serve",
                "--database-url",
                import_population(args.database_url, scratch, args.data),
            ]
            + ["--port", str(ports["onshi-db"])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={
                **os.environ,
                "ONSHI_ADMIN_TOKEN": "bench-" + "x" * 40,
                "ONSHI_STATE_DIR": str(work / "state"),
            },
        )
    if args.frameworks:
        comparisons: dict[str, tuple[str, dict[str, str]]] = {"fastapi": ("fastapi_app:app", {})}
        if scratch:
            database = args.database_url.rsplit("/", 1)[0] + "/" + scratch
            comparisons["asyncpg"] = ("asyncpg_app:app", {"BENCH_DATABASE_URL": database})
        for name, (target, extra) in comparisons.items():
            ports[name] = free_port()
            servers[name] = subprocess.Popen(
                [str(bin_dir / "uvicorn"), target, "--port", str(ports[name]), "--loop", "uvloop"]
                + ["--http", "httptools", "--no-access-log", "--log-level", "warning"],
                cwd=ROOT / "bench",
                env={**os.environ, "FLOOR_BODIES": str(bodies), **extra},
            )
    results: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in servers}
    try:
        wait_up(f"http://127.0.0.1:{ports['floor']}/")
        wait_up(f"http://127.0.0.1:{ports['floor-1w']}/")
        for name in ports:
            if not name.startswith("floor"):
                wait_up(f"http://127.0.0.1:{ports[name]}/v1/readyz", ready_only=True)
        for port in ports.values():  # warm-up, not counted
            wrk(port, script, 2)
        for round_no in range(1, args.rounds + 1):
            for name, port in ports.items():
                before = cpu_seconds(servers[name].pid)
                rate, p50, p99 = wrk(port, script, args.seconds)
                # The server's own CPU per request: with --database-url the throughput also
                # pays for PostgreSQL taking in the access log on the same two cores.
                cpu_us = (cpu_seconds(servers[name].pid) - before) / (rate * args.seconds) * 1e6
                results[name].append((rate, p50, p99, cpu_us))
                print(
                    f"round {round_no} {name:8s} {rate:10,.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
                    f"  server CPU {cpu_us:5.1f} µs/req",
                    flush=True,
                )
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(10)
        shutil.rmtree(work, ignore_errors=True)
        if scratch:
            drop_database(args.database_url, scratch)
    print(f"\nwrk -t1 -c32, {args.rounds} alternating rounds of {args.seconds} s, one worker each (medians):")
    median = {
        name: [statistics.median(col) for col in zip(*rows, strict=True)] for name, rows in results.items()
    }
    for name, (rate, p50, p99, cpu_us) in median.items():
        print(
            f"  {name:8s} {rate:10,.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
            f"  server CPU {cpu_us:5.1f} µs/req"
        )
    ratio = median["onshi"][0] / median["floor"][0]
    print(f"  onshi / floor = {ratio:.2f}  (issue #5 bar: >= 0.75, goal 0.85; the floor on plain uvicorn)")
    same_server = median["onshi"][0] / median["floor-1w"][0]
    print(f"  onshi / floor-1w = {same_server:.2f}  (the floor on Onshi's one-write protocol)")
    if "onshi-db" in median:
        print(
            f"  onshi from PostgreSQL / onshi from data = {median['onshi-db'][0] / median['onshi'][0]:.2f}"
            "  (issue #3: no slower)"
        )
        print(
            "  server CPU per request, from PostgreSQL / from data = "
            f"{median['onshi-db'][3] / median['onshi'][3]:.2f}"
        )
    if "baseline" in median:
        print(
            f"  onshi / baseline = {median['onshi'][0] / median['baseline'][0]:.3f} req/s,"
            f" server CPU per request {median['onshi'][3] / median['baseline'][3]:.3f}"
        )
    for name, bar in (("fastapi", 3), ("asyncpg", 6)):
        if name in median:
            print(f"  onshi / {name} = {median['onshi'][0] / median[name][0]:.1f}  (issue #5 bar: >= {bar})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
