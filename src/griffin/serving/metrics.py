"""Prometheus metrics of the inference server, kept in process and rendered as text.

Per deployment and version: requests, errors, and a latency histogram (seconds, from the
request's arrival to its answer). Per deployment: a histogram of the time spent reading
features from the online store. Per loaded version: batches, the rows they held, and the
largest. No client library: the text format is a few lines, and a scrape reads plain dicts.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from griffin.serving.batching import Batcher
    from griffin.serving.live import LiveDeployment, LiveVersion

__all__ = ["LATENCY_BUCKETS", "Metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

_Labels = tuple[str, str, int]  # deployment, model, version


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[_Labels, int] = defaultdict(int)
        self.errors: dict[_Labels, int] = defaultdict(int)
        self.latency_sum: dict[_Labels, float] = defaultdict(float)
        self.latency_buckets: dict[_Labels, list[int]] = {}
        self.fetch_sum: dict[str, float] = defaultdict(float)
        self.fetch_buckets: dict[str, list[int]] = {}

    def observe(
        self,
        deployment: str,
        version: LiveVersion,
        seconds: float,
        *,
        error: bool = False,
        batcher: Batcher | None = None,
    ) -> None:
        labels = (deployment, version.version.name, version.version.version)
        self.requests[labels] += 1
        if error:
            self.errors[labels] += 1
            return
        self.latency_sum[labels] += seconds
        _count(self.latency_buckets, labels, seconds)

    def observe_fetch(self, deployment: str, seconds: float) -> None:
        """One online-store read of a request's features."""
        self.fetch_sum[deployment] += seconds
        _count(self.fetch_buckets, deployment, seconds)

    def render(self, live: Iterable[LiveDeployment]) -> str:
        lines = [
            "# HELP griffin_predict_requests_total Predict requests answered, by version.",
            "# TYPE griffin_predict_requests_total counter",
        ]
        lines += [
            f"griffin_predict_requests_total{{{_labels(k)}}} {v}" for k, v in self.requests.items()
        ]
        lines += [
            "# HELP griffin_predict_errors_total Predict requests that failed, by version.",
            "# TYPE griffin_predict_errors_total counter",
        ]
        lines += [
            f"griffin_predict_errors_total{{{_labels(k)}}} {v}" for k, v in self.errors.items()
        ]
        lines += [
            "# HELP griffin_predict_latency_seconds Time from a request to its answer.",
            "# TYPE griffin_predict_latency_seconds histogram",
        ]
        for labels, counts in self.latency_buckets.items():
            lines += _histogram(
                "griffin_predict_latency_seconds", _labels(labels), counts, self.latency_sum[labels]
            )
        lines += [
            "# HELP griffin_feature_fetch_seconds Time to read a request's features online.",
            "# TYPE griffin_feature_fetch_seconds histogram",
        ]
        for served, counts in self.fetch_buckets.items():
            lines += _histogram(
                "griffin_feature_fetch_seconds",
                f'deployment="{served}"',
                counts,
                self.fetch_sum[served],
            )
        lines += [
            "# HELP griffin_batches_total Model calls, each a batch of one or more requests.",
            "# TYPE griffin_batches_total counter",
            "# HELP griffin_batch_rows_total Rows predicted in those calls.",
            "# TYPE griffin_batch_rows_total counter",
            "# HELP griffin_batch_rows_max The largest batch, in rows.",
            "# TYPE griffin_batch_rows_max gauge",
        ]
        seen: set[int] = set()
        for deployment in live:
            for version in deployment.versions:
                if id(version.batcher) in seen:
                    continue
                seen.add(id(version.batcher))
                stats = version.batcher.stats
                label = f'model="{version.version.name}",version="{version.version.version}"'
                lines.append(f"griffin_batches_total{{{label}}} {stats.batches}")
                lines.append(f"griffin_batch_rows_total{{{label}}} {stats.rows}")
                lines.append(f"griffin_batch_rows_max{{{label}}} {stats.largest}")
        return "\n".join(lines) + "\n"


def _count(buckets: dict[Any, list[int]], key: Any, seconds: float) -> None:
    counts = buckets.setdefault(key, [0] * (len(LATENCY_BUCKETS) + 1))
    counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1


def _histogram(name: str, labels: str, counts: list[int], total_s: float) -> list[str]:
    """A histogram's lines: cumulative buckets, the sum and the count."""
    lines = []
    total = 0
    for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
        total += count
        le = "+Inf" if bound == float("inf") else f"{bound:g}"
        lines.append(f'{name}_bucket{{{labels},le="{le}"}} {total}')
    lines.append(f"{name}_sum{{{labels}}} {total_s:.6f}")
    lines.append(f"{name}_count{{{labels}}} {total}")
    return lines


def _labels(labels: _Labels) -> str:
    deployment, model, version = labels
    return f'deployment="{deployment}",model="{model}",version="{version}"'
