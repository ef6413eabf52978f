"""MLflow tracking: the one cached client, training runs, monitoring runs and event records.

:mod:`mlcycle.core.registry` (model versions, aliases, promotions) builds on this module; nothing
here touches the Model Registry. The tracking server is ``$MLFLOW_TRACKING_URI``
(:func:`mlcycle.settings.mlflow_tracking_uri`).
"""

from __future__ import annotations

import functools
import json
import subprocess
import time
from typing import TYPE_CHECKING, Any

from mlcycle import settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

TAG_LIMIT = 4900  # MLflow refuses tag values over 5000 characters


@functools.cache
def _client(uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(uri)


def client() -> MlflowClient:
    """The client of the configured tracking server (one per URI and process); also sets fluent MLflow's URI."""
    import mlflow

    uri = settings.mlflow_tracking_uri()
    mlflow.set_tracking_uri(uri)
    return _client(uri)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=settings.REPO_ROOT, capture_output=True, text=True, check=True,
                          timeout=10).stdout.strip()


def git_commit() -> str:
    """The code version: commit of this checkout (``+dirty`` with local changes), else ``$MLCYCLE_CODE_VERSION``."""
    commit, dirty = code_state()
    return f"{commit}+dirty" if dirty == "true" else commit


def code_state() -> tuple[str, str]:
    """(commit, dirty): the checkout's HEAD and "true"/"false" (tracked files changed), or, without a git
    checkout (an image), ``$MLCYCLE_CODE_VERSION`` and "unknown"."""
    try:
        head = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return settings.code_version(), "unknown"
    return head, str(bool(dirty)).lower()


def environment_tags() -> dict[str, str]:
    """The lineage of the environment and the code: lock hash, Python version, commit and dirty flag."""
    import hashlib
    import platform

    lock = settings.REPO_ROOT / "requirements.txt"
    commit, dirty = code_state()
    return {"env.lock_md5": hashlib.md5(lock.read_bytes()).hexdigest() if lock.exists() else "unknown",
            "env.python": platform.python_version(),
            "code.commit": f"{commit}+dirty" if dirty == "true" else commit, "code.dirty": dirty}


def cause_tag(cause: dict[str, Any], limit: int = TAG_LIMIT) -> str:
    """The cause as JSON that fits an MLflow tag: with many events, the first ones and how many more."""
    events = list(cause.get("events", []))
    text = json.dumps(cause, default=str)
    while len(text) > limit and events:
        events.pop()
        text = json.dumps({**cause, "events": events, "more_events": len(cause["events"]) - len(events)},
                          default=str)
    return text if len(text) <= limit else json.dumps({"type": cause.get("type", "?"), "truncated": True})


def _batch(run_id: str, metrics: dict[str, float], params: dict[str, Any] | None = None) -> None:
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    client().log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                       params=[Param(k, str(v)) for k, v in (params or {}).items()])


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "pandas", "numpy", "scipy", "skops")]


def _own_model_types(model) -> list[str]:
    """Types skops will not load unasked. We just trained this model ourselves, so we vouch for them."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


def log_training_run(*, experiment: str, run_name: str, model, input_example, params: dict[str, Any],
                     metrics: dict[str, float], children: list[tuple[dict, dict]], artifacts: dict[str, str],
                     tags: dict[str, str]) -> dict[str, str]:
    """A training run (the search as child runs) with its sklearn model; returns run, experiment and model URI."""
    import mlflow
    from mlflow.models import infer_signature

    client()
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        for i, (child_params, child_metrics) in enumerate(children):
            with mlflow.start_run(run_name=f"search-{i}", nested=True) as child:
                _batch(child.info.run_id, child_metrics, child_params)
        _batch(run.info.run_id, metrics, params)
        signature = infer_signature(input_example, model.predict(input_example))
        info = mlflow.sklearn.log_model(model, name="model", signature=signature, input_example=input_example,
                                        pip_requirements=_pip_requirements(),
                                        skops_trusted_types=_own_model_types(model))
        for artifact_path, text in artifacts.items():
            mlflow.log_text(text, artifact_path)
    return {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id, "model_uri": info.model_uri}


def record_event(experiment: str, run_name: str, tags: dict[str, str]) -> str:
    """An empty run whose tags are the record (promotion history, alerts); returns its run id."""
    import mlflow

    client()
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        pass
    return run.info.run_id


def run_metrics(run_id: str) -> dict[str, float]:
    return dict(client().get_run(run_id).data.metrics)


def experiment_of(run_id: str) -> str:
    return client().get_run(run_id).info.experiment_id


def monitoring_experiment(model: str) -> str:
    return f"{model}-monitoring"


def log_monitoring(name: str, ds: str, metrics: dict[str, float], tags: dict[str, str],
                   files: list[str]) -> dict[str, str]:
    """One run per monitored day in ``<name>-monitoring``; re-checking a day replaces its run."""
    import mlflow

    mlflow_client = client()
    experiment = mlflow.set_experiment(monitoring_experiment(name))
    for old in mlflow_client.search_runs([experiment.experiment_id], f"tags.ds = '{ds}'"):
        mlflow_client.delete_run(old.info.run_id)
    with mlflow.start_run(run_name=f"monitor {ds}", tags={"ds": ds, **tags}) as run:
        _batch(run.info.run_id, metrics)
        for path in files:
            mlflow_client.log_artifact(run.info.run_id, path, "monitoring")
    return {"run_id": run.info.run_id, "experiment_id": experiment.experiment_id}


def alert_ids(cause: dict[str, Any]) -> list[str]:
    """The ids of the alerts (``alert_id`` in an event's extra) behind an Asset-triggered cause."""
    return [str(e["alert_id"]) for e in cause.get("events", []) if e.get("alert_id")]


def alert_ids_tag(cause: dict[str, Any]) -> dict[str, str]:
    """``{"alert_ids": "id1,id2"}`` for a cause with alert ids (a tag, kept whole even when ``cause`` is cut)."""
    ids = ",".join(alert_ids(cause))
    return {"alert_ids": ids[:TAG_LIMIT]} if ids else {}


def record_alert(name: str, action: str, cause: dict[str, Any], reason: str) -> None:
    """A drift alert and what became of it (e.g. skipped inside the cooldown), in ``<name>-monitoring``."""
    record_event(monitoring_experiment(name), f"alert {action}",
                 {"alert": action, "reason": reason[:TAG_LIMIT], "cause": cause_tag(cause), **alert_ids_tag(cause)})


def recorded_alert_ids(name: str) -> set[str]:
    """The alert ids of the alerts recorded (skipped, deferred) in ``<name>-monitoring``."""
    experiment = client().get_experiment_by_name(monitoring_experiment(name))
    if experiment is None:
        return set()
    runs = client().search_runs([experiment.experiment_id], "tags.alert != ''", max_results=5000)
    return {i for run in runs for i in run.data.tags.get("alert_ids", "").split(",") if i}
