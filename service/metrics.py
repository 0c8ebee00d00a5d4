"""Request counts and latency histograms, counted cheaply and exported at scrape time.

The hot path only bumps integers in a preallocated list; building Prometheus
families happens when /metrics is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from core_ext import CODE_NAMES

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

# Requests and connections refused instead of answered, by reason (a bounded
# label set: never by institution).  One per process, like the protocol objects that
# count into it; every reason is exported from the start, at 0.
REFUSALS: dict[str, int] = dict.fromkeys(
    (
        "header_timeout",
        "body_timeout",
        "connection_cap",
        "rate_requests",
        "rate_items",
        "miss_limit",
        "key_locked",
        "out_of_memory",
        "access_log_unwritable",
    ),
    0,
)
# What the probing limits (service/probing.py) counted: number-path misses, the birthdate
# mismatches among them (one per person under the key), and keys locked for the day.
PROBES: dict[str, int] = dict.fromkeys(("number_path_misses", "birthdate_mismatches", "keys_locked"), 0)
# Access-log lines that were not whole records (a crash or a full disk), set aside unsaved.
ACCESS_LOG_EVENTS: dict[str, int] = {"quarantined_lines": 0}


class RequestMetrics:
    """Per (endpoint, status): [count, sum of seconds, bucket counts…]."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, int], list[Any]] = {}

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        row = self.series.get((endpoint, status))
        if row is None:
            row = self.series[(endpoint, status)] = [0, 0.0] + [0] * (len(BUCKETS) + 1)
        row[0] += 1
        row[1] += seconds
        row[2 + bisect_left(BUCKETS, seconds)] += 1


class OnshiCollector(Collector):
    """Turns the counters, decision counts and snapshot facts into Prometheus families."""

    def __init__(
        self,
        metrics: RequestMetrics,
        state_info: Callable[[], dict[str, Any]],
        code_counts: Callable[[], list[int]],
    ) -> None:
        self.metrics = metrics
        self.state_info = state_info
        self.code_counts = code_counts

    def collect(self) -> Iterator[Any]:
        requests = CounterMetricFamily(
            "onshi_requests", "HTTP requests answered", labels=["endpoint", "code"]
        )
        latency = HistogramMetricFamily(
            "onshi_request_duration_seconds", "Time to answer", labels=["endpoint", "code"]
        )
        for (endpoint, status), row in sorted(self.metrics.series.items()):
            labels = [endpoint, str(status)]
            requests.add_metric(labels, row[0])
            cumulative, buckets = 0, []
            for bound, count in zip((*BUCKETS, float("inf")), row[2:], strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            latency.add_metric(labels, buckets, row[1])
        yield requests
        yield latency
        decisions = CounterMetricFamily("onshi_decisions", "Confirmations decided, by code", labels=["code"])
        for name, count in zip(CODE_NAMES, self.code_counts(), strict=True):
            decisions.add_metric([name], count)
        yield decisions
        refused = CounterMetricFamily(
            "onshi_refusals",
            "Requests and connections refused instead of answered, by reason",
            labels=["reason"],
        )
        for reason, count in REFUSALS.items():
            refused.add_metric([reason], count)
        yield refused
        probes = CounterMetricFamily(
            "onshi_probe_events", "Number-path misses, birthdate mismatches and keys locked", labels=["event"]
        )
        for event, count in PROBES.items():
            probes.add_metric([event], count)
        yield probes
        access = CounterMetricFamily(
            "onshi_access_log_events", "Access-log lines set aside as not whole records", labels=["event"]
        )
        for event, count in ACCESS_LOG_EVENTS.items():
            access.add_metric([event], count)
        yield access
        info = self.state_info()
        yield GaugeMetricFamily(
            "onshi_snapshot_age_seconds", "Seconds since the snapshot was loaded", value=info["age_seconds"]
        )
        yield GaugeMetricFamily("onshi_snapshot_persons", "Persons in the snapshot", value=info["persons"])
        yield GaugeMetricFamily(
            "onshi_snapshot_qualifications", "Qualifications in the snapshot", value=info["qualifications"]
        )
        yield GaugeMetricFamily(
            "onshi_overlay_persons",
            "Persons changed since the base snapshot, answered from the overlay",
            value=info["overlay_persons"],
        )
