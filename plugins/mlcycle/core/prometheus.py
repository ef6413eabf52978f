"""The pipelines' and models' state as Prometheus metrics: a collector that reads the lake and the registry
when Prometheus scrapes (the exporter pattern; ``python -m mlcycle.tools.exporter`` serves it).

Why an exporter and not the Pushgateway: the batch tasks already publish everything durable (manifests,
drift reports, the promotion history), so the state is *read* from there at scrape time. Nothing is lost
when a task dies before pushing, a deleted pipeline's series disappear, and a re-run day replaces its
figures, none of which holds for pushed series (Prometheus' own guidance keeps the Pushgateway for
service-level batch jobs with nothing to read afterwards).

Figures of a day are labelled with the day's logical date only through ``*_day_timestamp_seconds``:
Prometheus keeps the time series, the lake keeps the per-day history (the overview page plots it).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlcycle.core import lake, overview, storage

log = logging.getLogger(__name__)
PREFIX = "mlcycle"
CACHE_SECONDS = 10.0  # concurrent or rapid scrapes share one read of the lake and the registry


def _epoch(day: str) -> float:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp()


def _newest(days: list[dict[str, Any]], field: str) -> dict[str, Any] | None:
    return next((d for d in reversed(days) if d.get(field) is not None), None)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)


def _families() -> dict[str, Metric]:
    p = ["pipeline"]
    return {
        "drift_share": _gauge("drift_share", "Share of monitored columns that drifted on the last monitored day", p),
        "drift_threshold": _gauge("drift_threshold", "Drift share at which the monitor raises drift", p),
        "drift_detected": _gauge("drift_detected", "1 when the last monitored day drifted", p),
        "drifted_columns": _gauge("drifted_columns", "Columns that drifted on the last monitored day", p),
        "quality": _gauge("quality", "The primary metric of the champion on the last monitored day", p + ["metric"]),
        "holdout": _gauge("champion_holdout_quality", "The champion's primary metric on its holdout", p + ["metric"]),
        "rows": _gauge("rows", "Rows of the newest day of each stage (landed: raw zone; validated)", p + ["stage"]),
        "quarantine": _gauge("quarantine_share", "Share of the newest day's rows set aside by ingest and validate",
                             p),
        "day": _gauge("day_timestamp_seconds", "Logical date (UTC midnight) of the newest day of each stage",
                      p + ["stage"]),
        "published": _gauge("validated_published_timestamp_seconds",
                            "When the newest validated day was published (wall clock): stale pipelines", p),
        "champion": _gauge("champion_version", "Model version of the champion (0: none)", p),
        "gates": CounterMetricFamily(f"{PREFIX}_gate_verdicts", "Gate reports in the lake, by verdict",
                                     labels=p + ["verdict"]),
        "moves": CounterMetricFamily(f"{PREFIX}_registry_events", "Promotion history records, by action",
                                     labels=p + ["action"]),
        "up": _gauge("source_up", "1 when the exporter could read the source on this scrape", p + ["source"]),
    }


def _lake_metrics(m: dict[str, Metric], pipeline: str, days: list[dict[str, Any]], primary: str) -> None:
    if (monitored := _newest(days, "drift_share")) is not None:
        m["drift_share"].add_metric([pipeline], monitored["drift_share"])
        m["drift_detected"].add_metric([pipeline], float(bool(monitored["drift"])))
        m["drifted_columns"].add_metric([pipeline], monitored["drifted_columns"] or 0)
        m["day"].add_metric([pipeline, "monitored"], _epoch(monitored["ds"]))
        if monitored["drift_threshold"] is not None:
            m["drift_threshold"].add_metric([pipeline], monitored["drift_threshold"])
        if monitored["quality"] is not None:
            m["quality"].add_metric([pipeline, primary], monitored["quality"])
        if monitored["champion_quality"] is not None:
            m["holdout"].add_metric([pipeline, primary], monitored["champion_quality"])
    for stage, field in (("landed", "rows"), ("validated", "validated_rows")):
        if (newest := _newest(days, field)) is not None:
            m["rows"].add_metric([pipeline, stage], newest[field])
            m["day"].add_metric([pipeline, stage], _epoch(newest["ds"]))
    if (newest := _newest(days, "quarantine_share")) is not None:
        m["quarantine"].add_metric([pipeline], newest["quarantine_share"])
    if (validated := _newest(days, "validated_rows")) is not None:
        found = storage.stat(f"{lake.partition('validated', pipeline, validated['ds'])}/{lake.MANIFEST_FILE}")
        if found:
            m["published"].add_metric([pipeline], found[1])
    verdicts = {"passed": 0, "failed": 0}
    for report in overview.gate_reports(pipeline):
        if report["passed"] is not None:
            verdicts["passed" if report["passed"] else "failed"] += 1
    for verdict, count in verdicts.items():
        m["gates"].add_metric([pipeline, verdict], count)


def _registry_metrics(m: dict[str, Metric], pipeline: str, model: str) -> None:
    from mlcycle.core import registry

    actions = {"promote": 0, "reject": 0, "rollback": 0, "incident": 0}
    for record in registry.history(model):
        if record["action"] in actions:
            actions[record["action"]] += 1
    for action, count in actions.items():
        m["moves"].add_metric([pipeline, action], count)
    m["champion"].add_metric([pipeline], registry.alias_version(model, registry.CHAMPION) or 0)


def collect_all() -> list[Metric]:
    """Every metric of every pipeline in the lake; a source that fails reads ``source_up 0`` (and is logged)."""
    m = _families()
    for pipeline in overview.pipelines():
        config = overview.config_of(pipeline)
        primary = config.training.primary_metric if config else "primary"
        model = config.model_name if config else pipeline
        for source in ("lake", "registry"):
            try:
                if source == "lake":
                    _lake_metrics(m, pipeline, overview.daily(pipeline, config, overview.RECENT_DAYS), primary)
                else:
                    _registry_metrics(m, pipeline, model)
                m["up"].add_metric([pipeline, source], 1)
            except Exception:  # one bad source or pipeline must not empty the whole scrape
                log.exception("reading the %s of %s failed", source, pipeline)
                m["up"].add_metric([pipeline, source], 0)
    return list(m.values())


class PipelineCollector(Collector):
    """The collector: :func:`collect_all`, cached for :data:`CACHE_SECONDS` behind a lock."""

    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        self._lock = threading.Lock()
        self._cache_seconds = cache_seconds
        self._at, self._metrics = 0.0, []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._at > self._cache_seconds:
                self._metrics, self._at = collect_all(), time.monotonic()
            yield from self._metrics
