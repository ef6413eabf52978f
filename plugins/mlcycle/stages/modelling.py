"""Train, evaluate, register, score and monitor one model of one pipeline, in plain Python (no Airflow).

Lineage: every model version carries the md5 and DVC pointer of its training snapshot, the GX
results of the days in it, the code commit and the Airflow run that made it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from mlcycle import settings
from mlcycle.core import gating, lake, monitoring, registry, storage, training, versioning
from mlcycle.core.config import PipelineConfig
from mlcycle.errors import DataError

log = logging.getLogger(__name__)


def snapshot_uri(config: PipelineConfig, md5: str) -> str:
    """Training snapshots are content-addressed, so a version's data can never be overwritten."""
    return f"{settings.lake_uri()}/training/{config.name}/md5={md5}"


def latest_validated(config: PipelineConfig) -> str:
    dates = storage.list_partitions("validated", config.name)
    if not dates:
        raise training.TrainingDataError(f"{config.name} has no validated partition yet: run ingest and validate")
    return dates[-1]


def train_model(config: PipelineConfig, end: str | None = None, window_days: int | None = None,
                estimator: str | None = None, cause: dict[str, Any] | None = None,
                airflow: dict[str, str] | None = None) -> dict[str, Any]:
    """Snapshot the window, version it, train, log to MLflow, register as ``challenger``."""
    if config.training is None:
        raise DataError(f"{config.name} has no 'training' section in {settings.pipelines_dir() / config.name}.yaml")
    end = end or latest_validated(config)
    snapshot = training.build_snapshot(config, end, window_days)
    md5 = hashlib.md5(storage.parquet_bytes(snapshot)).hexdigest()
    uri = snapshot_uri(config, md5)
    storage.write_partition(snapshot, uri, {"end": end, "window_days": window_days or config.training.window_days})
    dvc_path = f"training/{config.name}/md5={md5}/{lake.DATA_FILE}"
    version = versioning.version_file(f"{uri}/{lake.DATA_FILE}", dvc_path)
    dates = sorted(snapshot[config.date_column].dt.strftime("%Y-%m-%d").unique())
    gx = {d: storage.read_manifest(lake.partition("validated", config.name, d)).get("gx", {}) for d in dates}
    result = training.train(config, snapshot, estimator)
    tags = {
        "data.md5": version.md5, "data.dvc_pointer": f"{dvc_path}.dvc",
        "data.snapshot_uri": uri, "data.window": f"{dates[0]}..{dates[-1]}", "data.rows": str(len(snapshot)),
        "gx.days_validated": str(len(gx)), "gx.all_published": str(all(g for g in gx.values())).lower(),
        "code.commit": registry.git_commit(), "estimator": result.estimator,
        "cause": registry.cause_tag(cause or {"type": "manual"}),
        **{f"airflow.{k}": v for k, v in (airflow or {}).items()},
    }
    example = training.prepare(snapshot.head(5), config)
    logged = registry.log_candidate(
        name=config.model_name, description=config.description, experiment=config.name, model=result.model,
        input_example=example, params={"estimator": result.estimator, "window_days": len(dates),
                                       "holdout_days": config.training.holdout_days, **result.params},
        metrics={f"holdout_{k}": v for k, v in result.holdout_metrics.items()},
        children=[(c.params, {f"validation_{k}": v for k, v in c.metrics.items()}) for c in result.candidates],
        artifacts={"data/training_snapshot.parquet.dvc": version.pointer_text,
                   "data/gx_results.json": json.dumps(gx, indent=1)},
        tags=tags, run_name=f"train {config.name} {dates[0]}..{dates[-1]}")
    return {**logged, "snapshot_md5": version.md5, "snapshot_uri": uri, "holdout_metrics": result.holdout_metrics,
            "train_rows": result.train_rows, "holdout_rows": result.holdout_rows}


def _scored(config: PipelineConfig, version: int, holdout) -> Any:
    model = registry.load_model(config.model_name, version)
    predicted, probability = training.predict(model, holdout, config)
    return gating.scored_frame(training.target(holdout, config), predicted, probability)


def evaluate_model(config: PipelineConfig, version: int) -> dict[str, Any]:
    """Score challenger and champion on the challenger's holdout; the Evidently gate decides."""
    info = registry.version_info(config.model_name, version)
    snapshot = storage.read_partition(info["tags"]["data.snapshot_uri"])
    holdout = snapshot[snapshot[training.SPLIT_COLUMN] == "holdout"]
    champion = registry.alias_version(config.model_name, registry.CHAMPION)
    if champion == version:
        champion = None
    out_dir = settings.state_dir() / "reports" / config.name / "gate" / f"v{version}"
    result = gating.evaluate(config, _scored(config, version, holdout),
                             _scored(config, champion, holdout) if champion else None, out_dir)
    registry.record_gate(config.model_name, version, result.passed, result.tests, result.reasons,
                         [result.html_path, result.json_path])
    report = f"{settings.lake_uri()}/reports/{config.name}/gate/v{version}"
    for path in (result.html_path, result.json_path):  # the lake copy is what the Airflow UI plugin serves
        storage.copy(f"file://{path}", f"{report}/{path.rsplit('/', 1)[-1]}")
    return {"version": version, "run_id": info["run_id"], "passed": result.passed, "champion": champion,
            "tests": result.tests, "reasons": result.reasons, "report": f"{report}/gate_report.html"}


def register_model(config: PipelineConfig, version: int, airflow_run: str = "", note: str = "") -> dict[str, Any]:
    """Promote a version whose gate passed; record the rejection of one whose gate failed.

    ``note`` (e.g. why a person registered this version by hand) joins the reason in the history.
    """
    tags = registry.version_info(config.model_name, version)["tags"]
    gate = tags.get("gate")
    extra = [note] if note else []
    if gate == "passed":
        record = registry.promote(config.model_name, version, "; ".join(["Evidently gate passed", *extra]),
                                  tags.get("gate.report", ""), airflow_run)
    elif gate == "failed":
        record = registry.reject(config.model_name, version, [tags.get("gate.reasons", "gate failed"), *extra],
                                 tags.get("gate.report", ""), airflow_run)
    else:
        raise registry.RegistryError(f"{config.model_name} v{version} has not been evaluated (gate={gate}); "
                                     f"run evaluate_{config.name} first")
    return {**record, "champion": registry.alias_version(config.model_name, registry.CHAMPION)}


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
    return monitoring.report_uri(config, ds) if zone == "monitoring" else lake.partition(zone, config.name, ds)


def score_day(config: PipelineConfig, ds: str) -> dict[str, Any] | None:
    """Batch predictions of the champion for one validated day; None when there is no champion yet."""
    champion = registry.champion(config.model_name)
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
    uri = lake.partition("predictions", config.name, ds)
    manifest = storage.write_partition(out, uri, {"ds": ds, "model_version": version,
                                                  "validated_md5": storage.read_manifest(validated_uri)["md5"]})
    log.info("scored %s %s: %d rows with %s v%s -> %s", config.name, ds, len(out), config.model_name, version, uri)
    return {"ds": ds, "uri": uri, "rows": len(out), "model_version": version, "md5": manifest["md5"]}


def monitor_day(config: PipelineConfig, ds: str, drift_share: float | None = None,
                quality_drop: float | None = None) -> dict[str, Any] | None:
    """Drift and quality of one validated day against the champion's training snapshot (from DVC).

    Writes the report to the lake and MLflow (experiment ``<p>-monitoring``); None without a champion.
    """
    champion = registry.champion(config.model_name)
    if champion is None:
        log.warning("%s has no champion yet, so there is no reference to compare %s with: monitoring skipped. "
                    "Train a model and let the gate promote it (train_%s).", config.model_name, ds, config.name)
        return None
    version, tags = champion["version"], champion["tags"]
    reference = monitoring.reference_snapshot(tags)
    validated_uri = lake.partition("validated", config.name, ds)
    day = storage.read_partition(validated_uri)
    holdout = {k.removeprefix("holdout_"): v for k, v in registry.run_metrics(champion["run_id"]).items()
               if k.startswith("holdout_")}
    out_dir = settings.state_dir() / "reports" / config.name / "drift" / ds
    result = monitoring.check_day(config, day, reference.drop(columns=[training.SPLIT_COLUMN]),
                                  registry.load_model(config.model_name, version), holdout, out_dir,
                                  drift_share, quality_drop)
    report = monitoring.publish_report(config, ds, result, {
        "champion": version, "validated_md5": storage.read_manifest(validated_uri)["md5"],
        "reference_md5": tags.get("data.md5", "")})
    metrics = {"drift_share": result.share, "drifted_columns": len(result.drifted_columns),
               "drift": float(result.drift), **{f"quality_{k}": v for k, v in result.quality.items()},
               **({"prediction_drift": result.prediction_drift} if result.prediction_drift is not None else {}),
               **({"quality_drop": result.quality_drop} if result.quality_drop is not None else {})}
    run = registry.log_monitoring(config.model_name, ds, metrics, {
        "champion": str(version), "drift": str(result.drift).lower(), "drifted": ",".join(result.drifted_columns),
        "reasons": "; ".join(result.reasons)[:4900] or "no drift", "reference_md5": tags.get("data.md5", ""),
        "report": report}, [result.html_path, result.json_path])
    return {"ds": ds, "partition": validated_uri, "champion": version, "report_uri": report, **run,
            **result.as_dict()}
