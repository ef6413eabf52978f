"""Train, evaluate, register and roll back one model of one pipeline, in plain Python (no Airflow).

Lineage: every model version carries the md5 and DVC pointer of its training snapshot, the GX
results of the days in it, the code commit (and whether the tree was dirty), the lock file's md5 and
the Python version, and the Airflow run that made it. ``tools/reproduce.py`` turns them back into the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.request
from typing import Any

from mlcycle import settings
from mlcycle.core import (
    approval,
    gating,
    governance,
    lake,
    model_card,
    registry,
    storage,
    tracking,
    training,
    versioning,
)
from mlcycle.core.config import PipelineConfig
from mlcycle.errors import DataError

log = logging.getLogger(__name__)


def latest_validated(config: PipelineConfig) -> str:
    dates = storage.list_partitions("validated", config.name)
    if not dates:
        raise training.TrainingDataError(f"{config.name} has no validated partition yet: run ingest and validate")
    return dates[-1]


def _snapshot(config: PipelineConfig, end: str, window_days: int | None) -> tuple[Any, str, versioning.DataVersion]:
    """Build the window's snapshot, publish it content-addressed and version it with DVC."""
    snapshot = training.build_snapshot(config, end, window_days)
    md5 = hashlib.md5(storage.parquet_bytes(snapshot)).hexdigest()
    uri = lake.snapshot(config.name, md5)
    storage.write_partition(snapshot, uri, {"end": end, "window_days": window_days or config.training.window_days})
    return snapshot, uri, versioning.version_file(f"{uri}/{lake.DATA_FILE}", lake.dvc_path(uri))


def _lineage(config: PipelineConfig, snapshot, uri: str, version: versioning.DataVersion, estimator: str,
             cause: dict[str, Any] | None, airflow: dict[str, str] | None) -> tuple[dict[str, str], dict, list]:
    """The version's lineage tags, the GX summaries of its days, and its days."""
    dates = sorted(snapshot[config.date_column].dt.strftime("%Y-%m-%d").unique())
    gx = {d: storage.read_manifest(lake.partition("validated", config.name, d)).get("gx", {}) for d in dates}
    tags = {
        "data.md5": version.md5, "data.dvc_pointer": f"{version.path}.dvc", "data.dvc_remote": version.remote,
        "data.snapshot_uri": uri, "data.window": f"{dates[0]}..{dates[-1]}", "data.rows": str(len(snapshot)),
        "gx.days_validated": str(len(gx)), "gx.all_published": str(all(g for g in gx.values())).lower(),
        **tracking.environment_tags(), "estimator": estimator,
        "cause": tracking.cause_tag(cause or {"type": "manual"}), **tracking.alert_ids_tag(cause or {}),
        **{f"airflow.{k}": v for k, v in (airflow or {}).items()},
    }
    return tags, gx, dates


def train_model(config: PipelineConfig, end: str | None = None, window_days: int | None = None,
                estimator: str | None = None, cause: dict[str, Any] | None = None,
                airflow: dict[str, str] | None = None) -> dict[str, Any]:
    """Snapshot the window, version it, train, log to MLflow, register as ``challenger``."""
    if config.training is None:
        raise DataError(f"{config.name} has no 'training' section in {settings.pipelines_dir() / config.name}.yaml")
    snapshot, uri, version = _snapshot(config, end or latest_validated(config), window_days)
    result = training.train(config, snapshot, estimator)
    tags, gx, dates = _lineage(config, snapshot, uri, version, result.estimator, cause, airflow)
    run = tracking.log_training_run(
        experiment=config.name, run_name=f"train {config.name} {dates[0]}..{dates[-1]}", model=result.model,
        input_example=training.prepare(snapshot.head(5), config),
        params={"estimator": result.estimator, "window_days": len(dates),
                "holdout_days": config.training.holdout_days, **result.params},
        metrics={f"holdout_{k}": v for k, v in result.holdout_metrics.items()},
        children=[(c.params, {f"validation_{k}": v for k, v in c.metrics.items()}) for c in result.candidates],
        artifacts={"data/training_snapshot.parquet.dvc": version.pointer_text,
                   "data/gx_results.json": json.dumps(gx, indent=1),
                   "config/pipeline.json": config.model_dump_json(indent=1),
                   "config/params.json": json.dumps(result.params, indent=1)},
        tags=tags)
    number = registry.register_candidate(config.model_name, config.description, run["model_uri"], tags)
    return {"version": number, "run_id": run["run_id"], "experiment_id": run["experiment_id"],
            "model_uri": f"models:/{config.model_name}/{number}", "snapshot_md5": version.md5, "snapshot_uri": uri,
            "holdout_metrics": result.holdout_metrics, "train_rows": result.train_rows,
            "holdout_rows": result.holdout_rows}


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
    result = gating.evaluate(config, _scored(config, version, holdout),
                             _scored(config, champion, holdout) if champion else None,
                             lake.scratch(config.name, "gate", f"v{version}"))
    registry.record_gate(config.model_name, version, result, [result.html_path, result.json_path])
    report = lake.gate_report(config.name, version)
    for path in (result.html_path, result.json_path):  # the lake copy is what the Airflow UI plugin serves
        storage.copy(f"file://{path}", f"{report}/{path.rsplit('/', 1)[-1]}")
    publish_card(config, version)
    return {"version": version, "run_id": info["run_id"], "passed": result.passed, "champion": champion,
            "verdict": result.verdict, "intervals": result.intervals, "tests": result.tests,
            "reasons": result.reasons, "report": f"{report}/{lake.GATE_REPORT}.html"}


def register_model(config: PipelineConfig, version: int, airflow_run: str = "", note: str = "",
                   approval_request: str = "") -> dict[str, Any]:
    """Promote a version whose gate passed; record the rejection of one whose gate failed.

    ``note`` (e.g. why a person registered this version by hand) joins the reason in the history. Where
    ``promotion.approval: required`` and the version is not approved yet, ``approval_request`` (where the
    request waits: dag/run/task) makes it wait for a person (action ``await_approval``); without it, refused.
    """
    tags = registry.version_info(config.model_name, version)["tags"]
    gate = tags.get("gate")
    extra = [note] if note else []
    awaits = gate == "passed" and config.promotion.approval == "required" and tags.get("approval") != "approved"
    if awaits and approval_request:
        return _request_approval(config, version, approval_request)
    if gate == "passed" and (refused := governance.refusals(config, tags)):
        raise registry.RegistryError(f"{config.model_name} v{version} passed the gate, but {' and '.join(refused)}: "
                                     f"approve it (version tag approval=approved), then run register_{config.name}")
    if gate == "passed":
        if config.promotion.approval == "none":
            approval.not_required(config.model_name, version)
        record = registry.promote(config.model_name, version,
                                  "; ".join([f"gate passed ({tags.get('gate.verdict', 'promote')})", *extra]),
                                  tags.get("gate.report", ""), airflow_run)
    elif gate == "failed":
        record = registry.reject(config.model_name, version, [tags.get("gate.reasons", "gate failed"), *extra],
                                 tags.get("gate.report", ""), airflow_run)
    else:
        raise registry.RegistryError(f"{config.model_name} v{version} has not been evaluated (gate={gate}); "
                                     f"run evaluate_{config.name} first")
    champion = registry.alias_version(config.model_name, registry.CHAMPION)
    onnx = export_onnx(config, version) if gate == "passed" and champion == version else {}
    notify_serving(config)
    publish_card(config, version)
    return {**record, "champion": champion, **onnx}


def export_onnx(config: PipelineConfig, version: int) -> dict[str, str]:
    """The version's ONNX twin as the run artifact ``onnx/model.onnx``, checked on its holdout; the
    outcome goes to the version's tags (``onnx``, ``onnx.max_abs_diff`` or ``onnx.reason``). A model
    that cannot be converted is recorded, never an error: the promotion stands."""
    import tempfile
    from pathlib import Path

    from mlcycle.core import onnx_export

    info = registry.version_info(config.model_name, version)
    model = registry.load_model(config.model_name, version)
    snapshot = storage.read_partition(info["tags"]["data.snapshot_uri"])
    holdout = training.prepare(snapshot[snapshot[training.SPLIT_COLUMN] == "holdout"], config,
                               list(getattr(model, "feature_names_in_", [])) or None)
    limit, relative, reason = onnx_export.tolerance(model)
    try:
        onnx_bytes = onnx_export.convert(model, config.columns)
        gap = onnx_export.parity(model, onnx_bytes, holdout, config.columns)
        if gap > limit:
            raise onnx_export.OnnxExportError(f"onnxruntime differs from scikit-learn by {gap} on the holdout "
                                              f"(tolerance {limit})")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.onnx"
            path.write_bytes(onnx_bytes)
            tracking.client().log_artifact(info["run_id"], str(path), "onnx")
        tags = {"onnx": "exported", "onnx.artifact": "onnx/model.onnx", "onnx.max_abs_diff": f"{gap:.3g}",
                "onnx.tolerance": f"{limit:g}{' relative' if relative else ''}: {reason}"}
    except onnx_export.OnnxExportError as exc:
        log.warning("%s v%s: no ONNX export: %s", config.model_name, version, exc)
        tags = {"onnx": "failed", "onnx.reason": str(exc)[:tracking.TAG_LIMIT]}
    for key, value in tags.items():
        tracking.client().set_model_version_tag(config.model_name, str(version), key, value)
    return tags


def publish_card(config: PipelineConfig, version: int) -> str | None:
    """Write the version's model card (from its tags, params and metrics) to the lake and its run; the URI of
    the Markdown. Best effort: a card that cannot be written is logged, and the promotion stands."""
    try:
        info = registry.version_info(config.model_name, version)
        run = tracking.client().get_run(info["run_id"])
        card = model_card.build(config, info, dict(run.data.params), dict(run.data.metrics))
        folder, text = lake.model_card(config.name, version), model_card.markdown(card)
        storage.write_bytes_atomic(f"{folder}/{lake.MODEL_CARD}.json", json.dumps(card, indent=1).encode())
        storage.write_bytes_atomic(f"{folder}/{lake.MODEL_CARD}.md", text.encode())
        tracking.client().log_text(info["run_id"], text, f"{lake.MODEL_CARD}.md")
    except Exception:
        log.exception("the model card of %s v%s could not be written", config.model_name, version)
        return None
    return f"{folder}/{lake.MODEL_CARD}.md"


def _request_approval(config: PipelineConfig, version: int, where: str) -> dict[str, Any]:
    superseded = approval.request(config.model_name, version, where)
    action = "superseded" if version in superseded else "await_approval"
    return {"action": action, "to_version": str(version), "superseded": superseded,
            "champion": registry.alias_version(config.model_name, registry.CHAMPION)}


def answer_approval(config: PipelineConfig, version: int, outcome: str, by: str, comment: str = "",
                    airflow_run: str = "") -> dict[str, Any]:
    """Record a person's answer (approved, rejected, timedout); an approval promotes the version."""
    record = approval.record(config.model_name, version, outcome, by, comment, airflow_run)
    if record["approval"] != approval.APPROVED:
        publish_card(config, version)
        return {**record, "champion": registry.alias_version(config.model_name, registry.CHAMPION)}
    return register_model(config, version, airflow_run, f"approved by {by}" + (f": {comment}" if comment else ""))


def rollback_model(config: PipelineConfig, version: int | None, reason: str, airflow_run: str = "") -> dict[str, Any]:
    """Move ``champion`` of the pipeline's model back to ``version`` (default: the previous champion)."""
    record = registry.rollback(config.model_name, version, reason, airflow_run)
    notify_serving(config)
    return record


def notify_serving(config: PipelineConfig, timeout: float = 10) -> bool:
    """Ask the serving app (``MLCYCLE_SERVING_URL``) to read the champion now. Never fails the task: without a
    server, or when it does not answer, the app's own poll of the alias picks the change up."""
    request = urllib.request.Request(f"{settings.serving_url()}/reload", method="POST", data=b"",
                                     headers={"X-API-Key": settings.serving_api_key() or ""})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            log.info("serving app at %s reloaded %s (HTTP %s)", settings.serving_url(), config.name, response.status)
            return True
    except Exception as exc:  # no server here, or a slow one: it polls the alias anyway
        log.info("serving app at %s not notified (%s); it polls the champion alias on its own",
                 settings.serving_url(), exc)
        return False


def version_run(config: PipelineConfig, version: int) -> tuple[str, str]:
    """(experiment id, run id) of the run that made a model version of the pipeline."""
    run_id = registry.version_info(config.model_name, version)["run_id"]
    return tracking.experiment_of(run_id), run_id
