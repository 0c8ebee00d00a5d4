"""A clinic day against Onshi: card readers, reception desks and the evening's appointment checks.

    ONSHI_DATA=DIR locust -f loadtest/locustfile.py --headless --host URL -u 100 -r 50 -t 20s

About 40% マイナ保険証 confirmations, 50% number-path ones (legacy card, 資格確認書,
お知らせ with the card, or unspecified), 10% batches of 20-200 appointments for the next
day; about 3% of requests are malformed or unknown (their 4xx or NOT_FOUND is the right
answer and counts as success).  The run fails (exit code 1) when unexpected failures
exceed 0.1% or the 95th percentile exceeds 50 ms.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from common import auth, requests
from common.data import load
from locust import FastHttpUser, between, events, task

MAX_FAIL_RATIO = 0.001
MAX_P95_MS = 50
ODD_SHARE = 0.03
TOKYO = timedelta(hours=9)


class ReceptionDesk(FastHttpUser):
    wait_time = between(0.0, 0.02)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.data = load()
        self.institution, self.headers = auth.desk(self.data, self.rng)

    def _post(self, path: str, body: dict[str, Any], name: str, expected: set[int] | None = None) -> None:
        payload = orjson.dumps({"institution_code": self.institution, **body})
        with self.client.post(
            path,
            data=payload,  # type: ignore[arg-type]  # bytes are sent as they are; locust annotates str and dict
            headers=self.headers,
            name=name,
            catch_response=True,
        ) as r:
            if r.status_code in (expected or {200}):
                r.success()
            else:
                r.failure(f"unexpected {r.status_code}: {(r.text or '')[:200]}")

    def _maybe_odd(self) -> bool:
        if self.rng.random() >= ODD_SHARE:
            return False
        body, expected = requests.odd(self.data, self.rng)
        self._post("/v1/confirmations", body, "odd (expected 4xx / NOT_FOUND)", expected)
        return True

    @task(40)
    def card_reader(self) -> None:
        if not self._maybe_odd():
            self._post("/v1/confirmations", requests.card(self.data, self.rng), "card")

    @task(50)
    def reception(self) -> None:
        if not self._maybe_odd():
            member = self.rng.choice(self.data.members)
            self._post("/v1/confirmations", requests.number_path(member, self.rng), "number path")

    @task(10)
    def appointments(self) -> None:
        today = (datetime.now(UTC) + TOKYO).date()
        items = requests.appointments(self.data, self.rng, today)
        self._post("/v1/confirmations/batch", {"items": items}, "batch (20-200)")


@events.quitting.add_listener
def _verdict(environment: Any, **_: Any) -> None:
    """Fail the run on more than 0.1% unexpected failures or a p95 above 50 ms."""
    total = environment.stats.total
    p95 = total.get_response_time_percentile(0.95) or 0
    problems = []
    if total.fail_ratio > MAX_FAIL_RATIO:
        problems.append(f"failure ratio {total.fail_ratio:.4%} > {MAX_FAIL_RATIO:.1%}")
    if p95 > MAX_P95_MS:
        problems.append(f"p95 {p95} ms > {MAX_P95_MS} ms")
    verdict = "FAILED: " + "; ".join(problems) if problems else "passed"
    print(
        f"clinic day {verdict} ({total.num_requests} requests, p95 {p95} ms, failures {total.num_failures})"
    )
    environment.process_exit_code = 1 if problems else 0
