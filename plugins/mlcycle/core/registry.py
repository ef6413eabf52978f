"""MLflow tracking and Model Registry: runs, model versions, aliases and the promotion history.

Aliases, not stages: ``challenger`` marks the newest candidate, ``champion`` the serving model,
``previous`` the champion it replaced (what a rollback restores). Every move of ``champion`` is
serialised by a lock, re-read after it is set, and recorded as a run of the experiment
``<model>-promotions`` so the history is visible in the MLflow UI.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import time
import warnings
from typing import TYPE_CHECKING, Any

from mlcycle import settings
from mlcycle.core.locks import file_lock
from mlcycle.errors import DataError

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)
CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"


class RegistryError(DataError):
    """A registry request that cannot be honoured (unknown version, nothing to roll back to, ...)."""


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")


def ui_url() -> str:
    """Base URL of the MLflow UI for links (may differ from the tracking URI behind a proxy)."""
    return os.environ.get("MLFLOW_UI_URL", tracking_uri()).rstrip("/")


def client() -> MlflowClient:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri())
    return MlflowClient(tracking_uri())


def git_commit() -> str:
    """The code version: commit of this checkout (``+dirty`` with local changes), or 'unknown'."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=settings.REPO_ROOT, capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=settings.REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("MLCYCLE_CODE_VERSION", "unknown")
    return f"{head}+dirty" if dirty else head


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "pandas", "numpy", "scipy", "skops")]


def _own_model_types(model) -> list[str]:
    """Types skops will not load unasked. We just trained this model ourselves, so we vouch for them."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


def ensure_model(name: str, description: str) -> None:
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    try:
        mlflow_client.get_registered_model(name)
    except MlflowException:
        mlflow_client.create_registered_model(name, description=description)


def cause_tag(cause: dict[str, Any], limit: int = 4900) -> str:
    """The cause as JSON that fits an MLflow tag: with many events, the first ones and how many more."""
    import json

    events = list(cause.get("events", []))
    text = json.dumps(cause, default=str)
    while len(text) > limit and events:
        events.pop()
        text = json.dumps({**cause, "events": events, "more_events": len(cause["events"]) - len(events)},
                          default=str)
    return text if len(text) <= limit else json.dumps({"type": cause.get("type", "?"), "truncated": True})


def log_candidate(*, name: str, description: str, experiment: str, model, input_example, params: dict[str, Any],
                  metrics: dict[str, float], children: list[tuple[dict, dict]], artifacts: dict[str, str],
                  tags: dict[str, str], run_name: str) -> dict[str, Any]:
    """Log a training run (search as child runs) and register its model as the new ``challenger``."""
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.models import infer_signature

    mlflow_client = client()
    mlflow.set_experiment(experiment)
    now = int(time.time() * 1000)
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        for i, (child_params, child_metrics) in enumerate(children):
            with mlflow.start_run(run_name=f"search-{i}", nested=True) as child:
                mlflow_client.log_batch(child.info.run_id,
                                        metrics=[Metric(k, v, now, 0) for k, v in child_metrics.items()],
                                        params=[Param(k, str(v)) for k, v in child_params.items()])
        mlflow_client.log_batch(run.info.run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                                params=[Param(k, str(v)) for k, v in params.items()])
        signature = infer_signature(input_example, model.predict(input_example))
        info = mlflow.sklearn.log_model(model, name="model", signature=signature, input_example=input_example,
                                        pip_requirements=_pip_requirements(),
                                        skops_trusted_types=_own_model_types(model))
        for artifact_path, text in artifacts.items():
            mlflow.log_text(text, artifact_path)
    ensure_model(name, description)
    version = mlflow.register_model(info.model_uri, name, tags={**tags, "gate": "pending"}).version
    mlflow_client.set_registered_model_alias(name, CHALLENGER, version)
    log.info("registered %s version %s as %s (run %s)", name, version, CHALLENGER, run.info.run_id)
    return {"version": int(version), "run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
            "model_uri": f"models:/{name}/{version}"}


def alias_version(name: str, alias: str) -> int | None:
    """The version an alias points to, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return int(client().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def version_info(name: str, version: int) -> dict[str, Any]:
    """A model version's run id, tags and aliases."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client().get_model_version(name, str(version))
    except MlflowException as exc:
        raise RegistryError(f"model '{name}' has no version {version} in {tracking_uri()}") from exc
    return {"version": int(mv.version), "run_id": mv.run_id, "tags": dict(mv.tags), "aliases": list(mv.aliases),
            "source": mv.source}


def load_model(name: str, version: int):
    import mlflow

    client()
    with warnings.catch_warnings():
        # skops probes every loaded module for numpy function names: one warning per Airflow shim
        warnings.simplefilter("ignore", FutureWarning)
        return mlflow.sklearn.load_model(f"models:/{name}/{version}")


def record_gate(name: str, version: int, passed: bool, tests: list[dict[str, str]], reasons: list[str],
                report_files: list[str]) -> str:
    """Attach the gate report to the version's run and its verdict to the version's tags."""
    mlflow_client = client()
    run_id = version_info(name, version)["run_id"]
    for path in report_files:
        mlflow_client.log_artifact(run_id, path, "evaluation")
    tags = {"gate": "passed" if passed else "failed", "gate.report": "evaluation/gate_report.html",
            "gate.reasons": "; ".join(reasons)[:4900] or "all tests passed"}
    tags.update({f"gate.test.{t['id']}": f"{t['status']}: {t['name']}" for t in tests})
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, str(version), key, value)
    lineage = version_info(name, version)["tags"]
    lines = [f"Evidently gate {'PASSED' if passed else 'FAILED'}. Report: run artifacts evaluation/gate_report.html",
             *[f"- {t['status']}: {t['name']} ({t['description']})" for t in tests],
             f"Trained on {lineage.get('data.window', '?')} ({lineage.get('data.rows', '?')} rows), data md5 "
             f"{lineage.get('data.md5', '?')}, code {lineage.get('code.commit', '?')}, "
             f"Airflow run {lineage.get('airflow.run_id', '?')}."]
    mlflow_client.update_model_version(name, str(version), description="\n".join(lines))
    return run_id


def _record(name: str, action: str, from_version: int | None, to_version: int | None, reason: str,
            extra: dict[str, str]) -> dict[str, Any]:
    import mlflow

    client()
    mlflow.set_experiment(f"{name}-promotions")
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record = {"action": action, "model": name, "from_version": str(from_version or ""),
              "to_version": str(to_version or ""), "reason": reason, "at": when, **extra}
    with mlflow.start_run(run_name=f"{action} v{from_version or '-'} -> v{to_version or '-'}", tags=record):
        pass
    return record


def history(name: str) -> list[dict[str, str]]:
    """Promotion, rejection and rollback records, oldest first."""
    mlflow_client = client()
    experiment = mlflow_client.get_experiment_by_name(f"{name}-promotions")
    if experiment is None:
        return []
    runs = mlflow_client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"],
                                     max_results=1000)
    keys = ("action", "from_version", "to_version", "reason", "at", "report", "airflow_run")
    return [{k: r.data.tags.get(k, "") for k in keys} for r in runs]


def _lock(name: str):
    return file_lock(settings.state_dir() / "locks" / f"champion-{name}.lock")


def _drop_challenger(name: str, version: int) -> None:
    if alias_version(name, CHALLENGER) == version:
        client().delete_registered_model_alias(name, CHALLENGER)


def _move_champion(name: str, version: int, action: str, reason: str, extra: dict[str, str]) -> dict[str, Any]:
    """Point ``champion`` at ``version`` under the lock. A promotion keeps the old champion as ``previous``;
    a rollback marks the withdrawn champion ``rolled_back`` so no later default rollback brings it back."""
    mlflow_client = client()
    current = alias_version(name, CHAMPION)
    if current == version:
        log.info("%s version %s is already %s", name, version, CHAMPION)
        return {"action": "noop", "from_version": current, "to_version": version}
    if current is not None and action == "rollback":
        mlflow_client.set_model_version_tag(name, str(current), "rolled_back", "true")
        mlflow_client.delete_registered_model_alias(name, PREVIOUS)
    elif current is not None:
        mlflow_client.set_registered_model_alias(name, PREVIOUS, str(current))
        mlflow_client.set_model_version_tag(name, str(current), "replaced_by", str(version))
    mlflow_client.set_registered_model_alias(name, CHAMPION, str(version))
    confirmed = alias_version(name, CHAMPION)
    if confirmed != version:
        raise RegistryError(f"{CHAMPION} of {name} reads back as {confirmed} after setting {version}")
    return _record(name, action, current, version, reason, extra)


def promote(name: str, version: int, reason: str, report: str = "", airflow_run: str = "") -> dict[str, Any]:
    """Make a version that passed the gate the champion; the old champion becomes ``previous``."""
    tags = version_info(name, version)["tags"]
    if tags.get("gate") != "passed":
        raise RegistryError(f"{name} v{version} has gate={tags.get('gate', 'none')}: only a version that passed "
                            "the Evidently gate can be promoted")
    with _lock(name):
        record = _move_champion(name, version, "promote", reason, {"report": report, "airflow_run": airflow_run})
        client().set_model_version_tag(name, str(version), "promoted_at", dt.datetime.now(dt.UTC).isoformat())
        _drop_challenger(name, version)
    return record


def reject(name: str, version: int, reasons: list[str], report: str = "", airflow_run: str = "") -> dict[str, Any]:
    """Record a failed gate on the version; the champion is left untouched."""
    with _lock(name):
        client().set_model_version_tag(name, str(version), "rejected", "true")
        _drop_challenger(name, version)
        return _record(name, "reject", alias_version(name, CHAMPION), version, "; ".join(reasons)[:4900],
                       {"report": report, "airflow_run": airflow_run})


def rollback(name: str, version: int | None, reason: str, airflow_run: str = "") -> dict[str, Any]:
    """Move ``champion`` back to ``version`` (default: the ``previous`` champion)."""
    with _lock(name):
        target = version or alias_version(name, PREVIOUS)
        if target is None:
            raise RegistryError(f"{name} has no '{PREVIOUS}' champion to roll back to (none yet, or already "
                                "rolled back); pass a version explicitly")
        tags = version_info(name, target)["tags"]
        if tags.get("gate") != "passed":
            raise RegistryError(f"{name} v{target} never passed the gate (gate={tags.get('gate', 'none')}); "
                                "roll back only to a version that did")
        return _move_champion(name, target, "rollback", reason, {"airflow_run": airflow_run})


def champion(name: str) -> dict[str, Any] | None:
    """The serving version's :func:`version_info` (run id, lineage tags), or None before the first promotion."""
    version = alias_version(name, CHAMPION)
    return None if version is None else version_info(name, version)


def run_metrics(run_id: str) -> dict[str, float]:
    return dict(client().get_run(run_id).data.metrics)


def log_monitoring(name: str, ds: str, metrics: dict[str, float], tags: dict[str, str],
                   files: list[str]) -> dict[str, str]:
    """One run per monitored day in ``<name>-monitoring``; re-checking a day replaces its run."""
    import mlflow
    from mlflow.entities import Metric

    mlflow_client = client()
    experiment = mlflow.set_experiment(f"{name}-monitoring")
    for old in mlflow_client.search_runs([experiment.experiment_id], f"tags.ds = '{ds}'"):
        mlflow_client.delete_run(old.info.run_id)
    now = int(time.time() * 1000)
    with mlflow.start_run(run_name=f"monitor {ds}", tags={"ds": ds, **tags}) as run:
        mlflow_client.log_batch(run.info.run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()])
        for path in files:
            mlflow_client.log_artifact(run.info.run_id, path, "monitoring")
    return {"run_id": run.info.run_id, "experiment_id": experiment.experiment_id}


def record_alert(name: str, action: str, cause: dict[str, Any], reason: str) -> None:
    """A drift alert and what became of it (e.g. skipped inside the cooldown), in ``<name>-monitoring``."""
    import mlflow

    client()
    mlflow.set_experiment(f"{name}-monitoring")
    with mlflow.start_run(run_name=f"alert {action}", tags={"alert": action, "reason": reason[:4900],
                                                           "cause": cause_tag(cause)}):
        pass


def last_alert_training(name: str) -> dt.datetime | None:
    """When the newest version trained because of an Asset event (a drift alert) was registered."""
    import json

    stamps = []
    for mv in client().search_model_versions(f"name = '{name}'"):
        try:
            cause = json.loads(mv.tags.get("cause", "{}"))
        except ValueError:
            continue
        if cause.get("type") == "asset":
            stamps.append(mv.creation_timestamp)
    return dt.datetime.fromtimestamp(max(stamps) / 1000, dt.UTC) if stamps else None
