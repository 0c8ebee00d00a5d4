"""A worker's memory stays flat under inputs meant to fill its memos (issue #20): 20,000
confirmations with unique 60 KiB symbols and 10,000 spellings of one valid key, against
a real one-worker server, RSS measured before and after."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.processes import CLINIC_CODE, CLINIC_KEY, serve

pytestmark = pytest.mark.slow
SYMBOLS = 20_000
SPELLINGS = 10_000


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _send(port: int, bodies_and_keys: list[tuple[bytes, str]]) -> set[int]:
    statuses = set()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for body, authorization in bodies_and_keys:
        connection.request(
            "POST",
            "/v1/confirmations",
            body,
            {"Authorization": authorization, "Content-Type": "application/json"},
        )
        answer = connection.getresponse()
        answer.read()
        statuses.add(answer.status)
    connection.close()
    return statuses


def test_unique_long_symbols_and_key_spellings_leave_memory_flat(tmp_path: Path) -> None:
    served = serve(
        tmp_path, ["--data", str(EXAMPLES / "data")], 1, ONSHI_MISS_LIMIT="0", ONSHI_KEY_MISS_LIMIT="0"
    )
    try:
        warm = [
            (
                json.dumps(
                    {
                        "institution_code": CLINIC_CODE,
                        "presented": "unspecified",
                        "insurer_number": "06270011",
                        "symbol": "建",
                        "number": "1",
                        "birthdate": "1970-01-20",
                    }
                ).encode(),
                f"Bearer {CLINIC_KEY}",
            )
        ]
        _send(served.port, warm * 200)
        before = rss_mib(served.process.pid)
        work = []
        for i in range(SYMBOLS):
            symbol = f"{i:05d}" + "建" * 20_000  # 60 KiB of UTF-8, unique
            body = json.dumps(
                {
                    "institution_code": CLINIC_CODE,
                    "presented": "unspecified",
                    "insurer_number": "06270011",
                    "symbol": symbol,
                    "number": "1",
                    "birthdate": "1970-01-20",
                },
                ensure_ascii=False,
            ).encode()
            work.append((body, f"Bearer {CLINIC_KEY}"))
        spellings = [
            (warm[0][0], f"Bearer {CLINIC_KEY}" + " " * (i % 400) + "\t" * (i // 400))
            for i in range(SPELLINGS)
        ]
        with ThreadPoolExecutor(8) as pool:
            chunks = [work[i::8] + spellings[i::8] for i in range(8)]
            statuses = set().union(*pool.map(lambda chunk: _send(served.port, chunk), chunks))
        after = rss_mib(served.process.pid)
        assert statuses <= {200, 401, 422}, statuses
        print(
            f"RSS {before:.1f} MiB before, {after:.1f} MiB after "
            f"{SYMBOLS:,} long symbols and {SPELLINGS:,} key spellings"
        )
        assert after - before < 50, (before, after)
    finally:
        served.kill_if_running()
