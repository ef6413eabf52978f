"""Score and monitor each validated day with the champion, in plain Python (no Airflow).

The lake is the work list: :func:`pending_days` finds the validated days whose predictions or
drift report are missing or stale (made from other data, or by another champion).
"""

from __future__ import annotations

import logging
from typing import Any

from mlcycle.core import governance, lake, monitoring, registry, requestlog, storage, tracking, training
from mlcycle.core.config import PipelineConfig

log = logging.getLogger(__name__)
ONLINE = "online-"  # a monitor work item "online-<day>" is that day's online requests (requests/<p>/ds=<day>)


def _window_end(tags: dict[str, str]) -> str | None:
    return tags.get("data.window", "").rpartition("..")[2] or None


def pending_days(config: PipelineConfig, zone: str) -> list[str]:
    """Validated days after the champion's training window with no up-to-date output in ``zone``.

    ``zone`` is ``predictions`` or ``monitoring``. Asset events can be coalesced or missed, so the
    score and monitor DAGs reconcile against the lake as validate does.
    """
    champion = registry.champion(config.model_name)
    if champion is None:
        return []
    version, after = champion["version"], _window_end(champion["tags"]) or ""
    pending = []
    for ds in storage.list_partitions("validated", config.name):
        if ds <= after:
            continue
        validated = storage.read_manifest(lake.partition("validated", config.name, ds))["md5"]
        try:
            done = storage.read_manifest(_output_uri(config, zone, ds))
        except storage.PartitionNotFound:
            done = {}
        stale = done.get("validated_md5") != validated
        if stale or (zone == "monitoring" and done.get("champion") != version):
            pending.append(ds)
    return pending


def _output_uri(config: PipelineConfig, zone: str, ds: str) -> str:
    return lake.drift_report(config.name, ds) if zone == "monitoring" else lake.partition(zone, config.name, ds)


def score_day(config: PipelineConfig, ds: str) -> dict[str, Any] | None:
    """Batch predictions of the champion for one validated day; None when there is no champion yet.

    :class:`~mlcycle.core.governance.UngatedChampion` when the champion may not serve."""
    champion = governance.servable_champion(config)
    if champion is None:
        log.warning("%s has no champion yet: nothing scores %s. Train a model and let the gate promote it "
                    "(train_%s), then re-run this day.", config.model_name, ds, config.name)
        return None
    version = champion["version"]
    validated_uri = lake.partition("validated", config.name, ds)
    day = storage.read_partition(validated_uri)
    predicted, probability = training.predict(registry.load_model(config.model_name, version), day, config)
    kept = [c for c in dict.fromkeys([*config.key, config.date_column]) if c in day.columns]
    out = day[kept].assign(prediction=predicted)
    if probability is not None:
        out["probability"] = probability
    out = out.assign(model_name=config.model_name, model_version=version, model_run_id=champion["run_id"])
    out, shadow = _with_shadow(config, day, out)
    uri = lake.partition("predictions", config.name, ds)
    manifest = storage.write_partition(out, uri, {"ds": ds, "model_version": version, "shadow_version": shadow,
                                                  "validated_md5": storage.read_manifest(validated_uri)["md5"]})
    log.info("scored %s %s: %d rows with %s v%s -> %s", config.name, ds, len(out), config.model_name, version, uri)
    return {"ds": ds, "uri": uri, "rows": len(out), "model_version": version, "md5": manifest["md5"]}


def _with_shadow(config: PipelineConfig, day, out) -> tuple[Any, int | None]:
    """``out`` with the pending challenger's predictions beside the champion's, while one is pending."""
    pending = governance.pending_challenger(config)
    if pending is None:
        return out, None
    version = pending["version"]
    predicted, probability = training.predict(registry.load_model(config.model_name, version), day, config)
    out = out.assign(shadow_version=version, shadow_prediction=predicted)
    if probability is not None:
        out["shadow_probability"] = probability
    return out, version


def shadow_agreement(config: PipelineConfig, version: int) -> dict[str, Any]:
    """How often challenger ``version`` agreed with the champion on the same rows, over every batch day and
    closed online day that carries its shadow predictions: rows, agreed rows, rate (None without rows)."""
    import pandas as pd

    frames = [storage.read_partition(lake.partition("predictions", config.name, ds))
              for ds in storage.list_partitions("predictions", config.name)]
    frames += [requestlog.read_day(config.name, ds) for ds in requestlog.days(config.name)
               if storage.exists(f"{lake.partition('requests', config.name, ds)}/{lake.MANIFEST_FILE}")]
    frames = [f[f["shadow_version"] == version] for f in frames if "shadow_version" in f.columns]
    both = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["prediction", "shadow_prediction"])
    agreed = int((both["prediction"] == both["shadow_prediction"]).sum())
    return {"version": version, "rows": len(both), "agreed": agreed,
            "rate": round(agreed / len(both), 6) if len(both) else None}


def pending_online_days(config: PipelineConfig) -> list[str]:
    """Closed days of online requests with no up-to-date drift report, as monitor work items (``online-<day>``)."""
    champion = registry.alias_version(config.model_name, registry.CHAMPION)
    pending = []
    for ds in filter(requestlog.closable, requestlog.days(config.name)):
        closed = requestlog.close_day(config.name, ds)
        try:
            done = storage.read_manifest(lake.online_drift_report(config.name, ds))
        except storage.PartitionNotFound:
            done = {}
        if done.get("requests_md5") != closed["md5"] or done.get("champion") != champion:
            pending.append(f"{ONLINE}{ds}")
    return pending


def monitor_day(config: PipelineConfig, ds: str, drift_share: float | None = None,
                quality_drop: float | None = None) -> dict[str, Any] | None:
    """Drift and quality of one validated day against the champion's training snapshot (from DVC).

    Writes the report to the lake and MLflow (experiment ``<p>-monitoring``); None without a champion,
    :class:`~mlcycle.core.governance.UngatedChampion` when it may not serve.
    """
    champion = governance.servable_champion(config)
    if champion is None:
        log.warning("%s has no champion yet, so there is no reference to compare %s with: monitoring skipped. "
                    "Train a model and let the gate promote it (train_%s).", config.model_name, ds, config.name)
        return None
    version, tags = champion["version"], champion["tags"]
    reference = monitoring.reference_snapshot(tags)
    if ds.startswith(ONLINE):  # online traffic: the day's requests, closed first, checked like a batch day
        day_ds = ds.removeprefix(ONLINE)
        validated_uri = lake.partition("requests", config.name, day_ds)
        manifest = (requestlog.close_day(config.name, day_ds) if requestlog.closable(day_ds)
                    else storage.read_manifest(validated_uri))  # a day still open is read only if closed by force
        day = requestlog.read_day(config.name, day_ds)
        day = day.assign(**{c: None for c in (config.label, config.date_column) if c not in day.columns})
        report_uri, meta = lake.online_drift_report(config.name, day_ds), {"requests_md5": manifest["md5"]}
    else:
        validated_uri = lake.partition("validated", config.name, ds)
        day = storage.read_partition(validated_uri)
        report_uri, meta = None, {"validated_md5": storage.read_manifest(validated_uri)["md5"]}
    holdout = {k.removeprefix("holdout_"): v for k, v in tracking.run_metrics(champion["run_id"]).items()
               if k.startswith("holdout_")}
    out_dir = lake.scratch(config.name, "drift", ds)
    result = monitoring.check_day(config, day, reference.drop(columns=[training.SPLIT_COLUMN]),
                                  registry.load_model(config.model_name, version), holdout, out_dir,
                                  drift_share, quality_drop)
    report = monitoring.publish_report(config, ds, result, {
        "champion": version, "reference_md5": tags.get("data.md5", ""), **meta,
        "drift_threshold": drift_share if drift_share is not None else config.monitoring.drift_share}, report_uri)
    metrics = {"drift_share": result.share, "drifted_columns": len(result.drifted_columns),
               "drift": float(result.drift), **{f"quality_{k}": v for k, v in result.quality.items()},
               **({"prediction_drift": result.prediction_drift} if result.prediction_drift is not None else {}),
               **({"quality_drop": result.quality_drop} if result.quality_drop is not None else {})}
    run = tracking.log_monitoring(config.model_name, ds, metrics, {
        "champion": str(version), "drift": str(result.drift).lower(), "drifted": ",".join(result.drifted_columns),
        "reasons": "; ".join(result.reasons)[:4900] or "no drift", "reference_md5": tags.get("data.md5", ""),
        "report": report}, [result.html_path, result.json_path])
    return {"ds": ds, "partition": validated_uri, "champion": version, "report_uri": report, **run,
            **result.as_dict()}
