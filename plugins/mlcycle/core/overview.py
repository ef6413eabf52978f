"""A pipeline's health over time, assembled from the lake and the registry: the overview page's data and the
Prometheus exporter's source. No Airflow here, no HTML: plain dicts and lists.

- :func:`daily`: per day, rows landed, rows validated, rows set aside (quarantine share), the drift share
  and verdict, the primary metric and the champion's holdout figure (from the drift report's manifest);
- :func:`events`: promotions, rejections, rollbacks and incidents of the promotion history, and the drift
  alerts, each placed on the logical day it belongs to;
- :func:`champion_card` and :func:`summary`: the champion, and the state of a pipeline at a glance.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

from mlcycle.core import lake, storage
from mlcycle.core.config import ConfigError, PipelineConfig, load_pipeline

log = logging.getLogger(__name__)
PIPELINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RECENT_DAYS = 14  # the list and the exporter look at the newest days only (a few small reads per day)
LINEAGE = ("data.window", "data.rows", "data.md5", "code.commit", "estimator", "airflow.run_id", "env.python",
           "env.lock_md5", "code.dirty")


def pipelines() -> list[str]:
    """Every pipeline with something in the lake (data, quarantine or reports), sorted."""
    names = {n for zone in ("raw", "validated", "quarantine", "reports")
             for n in storage.list_names(f"{lake.root()}/{zone}")}
    return sorted(n for n in names if PIPELINE.match(n))


def config_of(pipeline: str) -> PipelineConfig | None:
    """The pipeline's config, or None when its file is gone (its data stays in the lake)."""
    try:
        return load_pipeline(pipeline)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        log.info("no config for %s (%s): its overview shows the lake only", pipeline, exc)
        return None


def _manifest(uri: str) -> dict[str, Any]:
    try:
        return json.loads(storage.read_bytes(f"{uri}/{lake.MANIFEST_FILE}"))
    except (FileNotFoundError, ValueError):
        return {}


def _days(zone: str, pipeline: str) -> list[str]:
    return [n.removeprefix("ds=") for n in storage.list_names(lake.zone(zone, pipeline))
            if DAY.match(n.removeprefix("ds="))]


def _quarantined_rows(pipeline: str, ds: str) -> dict[str, int]:
    """Rows ingest and validate set aside on a day (a whole rejected file counts as none: its rows are unknown)."""
    return {stage: int(_manifest(lake.quarantine(pipeline, ds, stage)).get("rows") or 0)
            for stage in ("ingest", "validate")}


def _drift_quality(pipeline: str, ds: str, manifest: dict[str, Any], primary: str | None) -> tuple[Any, Any]:
    """The day's primary metric and the champion's holdout figure: from the manifest, else the report's JSON."""
    quality, reference = manifest.get("quality"), manifest.get("reference_quality")
    if quality is None:  # reports published before the manifest carried the quality
        try:
            verdict = json.loads(storage.read_bytes(f"{lake.drift_report(pipeline, ds)}/{lake.DRIFT_REPORT}.json"))
            quality, reference = verdict["verdict"].get("quality"), verdict["verdict"].get("reference_quality")
        except (FileNotFoundError, ValueError, KeyError):
            return None, None
    primary = primary or manifest.get("primary_metric") or next(iter(quality or {}), None)
    return (quality or {}).get(primary), (reference or {}).get(primary)


def daily(pipeline: str, config: PipelineConfig | None = None, newest: int | None = None) -> list[dict[str, Any]]:
    """One row per day the pipeline touched, oldest first (None where a stage has not run for the day);
    ``newest``: only that many of the latest days (what the exporter and the list need: fewer reads on S3)."""
    primary = config.training.primary_metric if config else None
    threshold = config.monitoring.drift_share if config else None
    raw, validated, quarantined = (set(_days(z, pipeline)) for z in ("raw", "validated", "quarantine"))
    drift_days = {n.removeprefix("ds=") for n in storage.list_names(f"{lake.zone('reports', pipeline)}/drift")}
    rows = []
    for ds in sorted(raw | validated | quarantined | {d for d in drift_days if DAY.match(d)})[-(newest or 0):]:
        landed = _manifest(lake.partition("raw", pipeline, ds)).get("rows")
        passed = _manifest(lake.partition("validated", pipeline, ds)).get("rows")
        aside = _quarantined_rows(pipeline, ds)
        set_aside, total = sum(aside.values()), (landed or 0) + aside["ingest"]  # raw holds what ingest kept
        report = _manifest(lake.drift_report(pipeline, ds)) if ds in drift_days else {}
        quality, reference = _drift_quality(pipeline, ds, report, primary) if report else (None, None)
        rows.append({
            "ds": ds, "rows": landed, "validated_rows": passed, "quarantined_rows": set_aside,
            "quarantine_share": round(set_aside / total, 6) if total else None,
            "drift_share": report.get("share"), "drift": report.get("drift"),
            "drifted_columns": len(report["drifted_columns"]) if "drifted_columns" in report else None,
            "drift_threshold": report.get("drift_threshold", threshold), "champion": report.get("champion"),
            "quality": quality, "champion_quality": reference})
    return rows


def _day_of_version(tags: dict[str, str]) -> str | None:
    """The logical day a version belongs to: the last day of its training window."""
    window = tags.get("data.window", "")
    return window.rsplit("..", 1)[-1] if DAY.match(window.rsplit("..", 1)[-1]) else None


def _day_at(pipeline: str, moment: str) -> str | None:
    """The newest validated day published before ``moment`` (ISO time): where an event without a version's
    window sits on the chart."""
    try:
        at = dt.datetime.fromisoformat(moment).timestamp()
    except ValueError:
        return None
    best = None
    for ds in sorted(_days("validated", pipeline)):
        found = storage.stat(f"{lake.partition('validated', pipeline, ds)}/{lake.MANIFEST_FILE}")
        if found and found[1] <= at:
            best = ds
    return best


def _version_tags(model: str, version: str, cache: dict[str, dict[str, str]]) -> dict[str, str]:
    from mlcycle.core import registry

    if version and version not in cache:
        try:
            cache[version] = registry.version_info(model, int(version))["tags"]
        except registry.RegistryError:
            cache[version] = {}
    return cache.get(version, {})


def events(pipeline: str, model: str | None = None) -> list[dict[str, Any]]:
    """Promotions, rejections, rollbacks, incidents and drift alerts, oldest first. Each: ``ds``, ``kind``,
    ``version`` (or None), ``text``, and what it links to (``gate`` report of a version, ``drift`` report of a
    day, or the ``version`` in the registry)."""
    from mlcycle.core import registry

    cache: dict[str, dict[str, str]] = {}
    found = []
    for record in registry.history(model or pipeline):
        action = record["action"]
        if action not in ("promote", "reject", "rollback", "incident"):
            continue
        version = record["to_version"]
        tags = _version_tags(model or pipeline, version, cache)
        ds = (_day_of_version(tags) if action in ("promote", "reject") else None) or _day_at(pipeline, record["at"])
        gate = action in ("promote", "reject") and storage.exists(
            f"{lake.gate_report(pipeline, int(version))}/{lake.GATE_REPORT}.html") if version else False
        found.append({"ds": ds, "kind": action, "version": int(version) if version else None, "at": record["at"],
                      "text": f"{action} v{version or '-'}: {record['reason']}"[:300],
                      "link": "gate" if gate else "version" if version else None})
    for day in daily_drift_alerts(pipeline):
        found.append({"ds": day["ds"], "kind": "alert", "version": day.get("champion"), "at": "",
                      "text": f"drift on {day['ds']} (share {day.get('share')})", "link": "drift"})
    return sorted((e for e in found if e["ds"]), key=lambda e: (e["ds"], e["at"]))


def daily_drift_alerts(pipeline: str) -> list[dict[str, Any]]:
    """The drift reports whose verdict was drift: the days the monitor raised an alert."""
    alerts = []
    for name in storage.list_names(f"{lake.zone('reports', pipeline)}/drift"):
        ds = name.removeprefix("ds=")
        manifest = _manifest(lake.drift_report(pipeline, ds)) if DAY.match(ds) else {}
        if manifest.get("drift"):
            alerts.append({**manifest, "ds": ds})
    return alerts


def champion_card(model: str) -> dict[str, Any] | None:
    """The champion: version, since when, the gate's verdict, the approver and the lineage; None without one."""
    from mlcycle.core import registry

    champion = registry.champion(model)
    if champion is None:
        return None
    tags = champion["tags"]
    return {"version": champion["version"], "since": tags.get("promoted_at", ""), "gate": tags.get("gate", "none"),
            "verdict": tags.get("gate.verdict", ""), "reasons": tags.get("gate.reasons", ""),
            "approval": tags.get("approval", ""), "approved_by": tags.get("approval.by", ""),
            "lineage": {k: tags[k] for k in LINEAGE if k in tags}}


def summary(pipeline: str, config: PipelineConfig | None = None) -> dict[str, Any]:
    """A pipeline at a glance, from the lake alone (the list stays fast when MLflow is slow): its newest days,
    its last drift check and the champion that check used."""
    days = daily(pipeline, config, newest=RECENT_DAYS)
    validated = [d for d in days if d["validated_rows"] is not None]
    monitored = [d for d in days if d["drift"] is not None]
    return {"pipeline": pipeline, "configured": config is not None,
            "last_day": days[-1]["ds"] if days else None,
            "last_validated": validated[-1]["ds"] if validated else None,
            "last_monitored": monitored[-1] if monitored else None,
            "quarantine_share": days[-1]["quarantine_share"] if days else None,
            "champion": monitored[-1]["champion"] if monitored else None}


def gate_reports(pipeline: str) -> list[dict[str, Any]]:
    """The gate reports in the lake, newest version first: version, passed (None: unreadable) and reasons."""
    versions = []
    for name in storage.list_names(f"{lake.zone('reports', pipeline)}/gate"):
        if (match := re.match(r"^v(\d{1,9})$", name)) is None:
            continue
        try:
            raw = storage.read_bytes(f"{lake.gate_report(pipeline, int(match[1]))}/{lake.GATE_REPORT}.json")
            verdict = json.loads(raw).get("verdict", {})
        except (FileNotFoundError, ValueError):
            verdict = {}
        versions.append({"version": int(match[1]), "passed": verdict.get("passed"),
                         "reasons": verdict.get("reasons") or []})
    return sorted(versions, key=lambda v: v["version"], reverse=True)
