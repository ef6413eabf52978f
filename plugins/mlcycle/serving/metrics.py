"""The serving app's Prometheus metrics (prometheus_client), on ``GET /metrics``.

With several server processes (``MLCYCLE_SERVING_WORKERS`` > 1) ``python -m mlcycle.serving`` sets
``PROMETHEUS_MULTIPROC_DIR`` (default ``<state>/serving/prometheus``, emptied at start)
and :func:`exposition` aggregates every process's files (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from mlcycle import settings

REQUESTS = Counter("mlcycle_serving_requests_total", "Prediction requests, by pipeline and HTTP status",
                   ["pipeline", "status"])
ERRORS = Counter("mlcycle_serving_errors_total", "Prediction requests that failed, by pipeline and kind",
                 ["pipeline", "kind"])
ROWS = Counter("mlcycle_serving_rows_total", "Rows predicted", ["pipeline"])
LATENCY = Histogram("mlcycle_serving_request_seconds", "Time to answer a prediction request", ["pipeline"],
                    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
LOADED = Gauge("mlcycle_serving_model_version", "Model version loaded, by pipeline and role (champion, shadow)",
               ["pipeline", "role"], multiprocess_mode="liveall")
SWAPS = Counter("mlcycle_serving_swaps_total", "Champion swaps", ["pipeline"])
LOG_DROPPED = Counter("mlcycle_serving_log_dropped_rows_total", "Request-log rows dropped (queue full)", ["pipeline"])
LOG_FAILURES = Counter("mlcycle_serving_log_write_failures_total", "Request-log flushes that failed", ["pipeline"])


def exposition() -> tuple[bytes, str]:
    """The metrics page and its content type: this process's, or every process's in multiprocess mode."""
    if settings.prometheus_multiproc_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def process_exited() -> None:
    """Drop this process's live gauges from the multiprocess files (a worker that stops)."""
    if settings.prometheus_multiproc_dir():
        multiprocess.mark_process_dead(os.getpid())
