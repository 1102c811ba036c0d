"""Prometheus metrics of the inference server, kept in process and rendered as text.

Per deployment and version: requests, errors, and a latency histogram (seconds, from the
request's arrival to its answer). Per loaded version: batches, the rows they held, and the
largest. No client library: the text format is a few lines, and a scrape reads plain dicts.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

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
        counts = self.latency_buckets.setdefault(labels, [0] * (len(LATENCY_BUCKETS) + 1))
        counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1

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
            total = 0
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
                total += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(
                    f'griffin_predict_latency_seconds_bucket{{{_labels(labels)},le="{le}"}} {total}'
                )
            lines.append(
                f"griffin_predict_latency_seconds_sum{{{_labels(labels)}}} "
                f"{self.latency_sum[labels]:.6f}"
            )
            lines.append(f"griffin_predict_latency_seconds_count{{{_labels(labels)}}} {total}")
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


def _labels(labels: _Labels) -> str:
    deployment, model, version = labels
    return f'deployment="{deployment}",model="{model}",version="{version}"'
