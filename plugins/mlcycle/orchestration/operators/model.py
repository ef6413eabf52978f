"""Train, evaluate, register and roll back models: thin operators over :mod:`mlcycle.stages.modelling`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowSkipException

from mlcycle.orchestration.assets import pipeline_asset
from mlcycle.orchestration.links import GateReportLink, MlflowRunLink, ModelVersionLink
from mlcycle.orchestration.notifiers import PromotionNotifier
from mlcycle.orchestration.operators._failfast import fail_fast_on_data_errors


def _persist_links(operator: BaseOperator, context: Context, version: int, experiment_id: str, run_id: str) -> None:
    """Store the URLs of the links this operator declares (the UI reads them from XCom)."""
    from mlcycle.core import registry
    from mlcycle.orchestration.links import mlflow_urls

    urls = mlflow_urls(registry.ui_url(), operator.pipeline, version, experiment_id, run_id)
    for link in operator.operator_extra_links:
        type(link).persist(context, urls[type(link)])


def _experiment_of(run_id: str) -> str:
    from mlcycle.core import registry

    return registry.client().get_run(run_id).info.experiment_id


def _versions(context: Context, explicit: Any) -> list[int]:
    """The Param ``version`` if set, else the versions named by the triggering Asset events."""
    if explicit not in (None, "", "None"):
        return [int(explicit)]
    found = set()
    for events in context["triggering_asset_events"].values():
        for event in events:
            extra = event.extra or {}
            found.update(int(v) for v in extra.get("versions", [extra["version"]] if "version" in extra else []))
    return sorted(found)


def _cause(context: Context) -> dict[str, Any]:
    """Why this run happened: the triggering events' extras, the schedule, or a person."""
    events = [{"asset": str(getattr(e, "asset", "")), **(e.extra or {})}
              for evs in context["triggering_asset_events"].values() for e in evs]
    run_type = getattr(context["dag_run"], "run_type", "manual")
    run_type = str(getattr(run_type, "value", run_type))  # DagRunType.SCHEDULED -> "scheduled"
    if events:
        return {"type": "asset", "events": events}
    return {"type": "schedule" if run_type in ("scheduled", "backfill") else "manual",
            "reason": context["params"].get("reason") or ""}


def _skip_inside_cooldown(config, cause: dict[str, Any]) -> None:
    """Debounce drift alerts: inside the cooldown after a drift-triggered training, record and skip."""
    import datetime as dt

    from mlcycle.core import registry

    last = registry.last_alert_training(config.model_name)
    cooldown = dt.timedelta(minutes=config.monitoring.cooldown_minutes)
    if last is None or dt.datetime.now(dt.UTC) - last >= cooldown:
        return
    reason = (f"drift alert inside the cooldown: the last drift-triggered training of {config.name} was at "
              f"{last:%Y-%m-%d %H:%M:%S} UTC, cooldown {config.monitoring.cooldown_minutes} min "
              "(monitoring.cooldown_minutes); recorded in the MLflow experiment "
              f"{config.model_name}-monitoring, no training. Trigger train_{config.name} by hand to train anyway.")
    registry.record_alert(config.model_name, "skipped", cause, reason)
    raise AirflowSkipException(reason)


def _skip_without_data(config, cause: dict[str, Any], error: Exception) -> None:
    """An alert or a scheduled run that finds too little validated data: skipped, not failed.

    A drift alert is recorded as deferred. No model is registered, so no cooldown starts: the
    monitor's next alert retrains. (The first scheduled run after deployment can come before any data.)
    """
    from mlcycle.core import registry

    reason = f"{cause['type']} training, but not enough validated data yet ({error})"
    if cause["type"] == "asset":
        reason += "; the next alert retrains"
        registry.record_alert(config.model_name, "deferred", cause, reason)
    raise AirflowSkipException(reason) from error


class TrainOperator(BaseOperator):
    """Train on the validated window ending at ``window_end`` and register the model as ``challenger``.

    Emits ``candidate.<pipeline>`` with the new version. Links: MLflow run, model version.
    """

    template_fields: Sequence[str] = ("window_end", "window_days", "estimator")
    operator_extra_links = (MlflowRunLink(), ModelVersionLink())
    ui_color = "#e0e7ff"

    def __init__(self, *, pipeline: str, window_end: str | None = "{{ params.window_end or '' }}",
                 window_days: Any = "{{ params.window_days or '' }}",
                 estimator: str | None = "{{ params.estimator or '' }}", **kwargs: Any) -> None:
        kwargs.setdefault("outlets", [pipeline_asset("candidate", pipeline)])
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.window_end = window_end
        self.window_days = window_days
        self.estimator = estimator

    def execute(self, context: Context) -> dict[str, Any]:
        from mlcycle.core.config import load_pipeline
        from mlcycle.core.training import TrainingDataError
        from mlcycle.stages import modelling

        config = load_pipeline(self.pipeline)
        cause = _cause(context)
        self.log.info("cause of this training: %s", cause)
        if cause["type"] == "asset":
            _skip_inside_cooldown(config, cause)
        airflow = {"dag_id": self.dag_id, "run_id": context["run_id"], "task_id": self.task_id}
        with fail_fast_on_data_errors():
            try:
                result = modelling.train_model(config, self.window_end or None,
                                                 int(self.window_days) if self.window_days else None,
                                                 self.estimator or None, cause, airflow)
            except TrainingDataError as exc:
                if cause["type"] == "manual":
                    raise
                _skip_without_data(config, cause, exc)
        _persist_links(self, context, result["version"], result["experiment_id"], result["run_id"])
        context["outlet_events"][pipeline_asset("candidate", self.pipeline)].extra = {
            "version": result["version"], "run_id": result["run_id"], "snapshot_md5": result["snapshot_md5"]}
        return result


class _PerVersionOperator(BaseOperator):
    """Handle each model version named by the ``version`` Param, or else by the triggering Asset events."""

    template_fields: Sequence[str] = ("version",)
    action: str = ""

    def __init__(self, *, pipeline: str, version: Any = "{{ params.version or '' }}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.version = version

    def handle(self, config, version: int, context: Context) -> dict[str, Any]:
        raise NotImplementedError

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from mlcycle.core.config import load_pipeline

        config = load_pipeline(self.pipeline)
        versions = _versions(context, self.version)
        if not versions:
            raise ValueError(f"no model version to {self.action}: trigger with {{\"version\": N}}, "
                             "or let the upstream Asset event name it")
        with fail_fast_on_data_errors():
            results = [self.handle(config, version, context) for version in versions]
        experiment_id, run_id = _version_run(config.model_name, versions[-1])
        _persist_links(self, context, versions[-1], experiment_id, run_id)
        return results


class EvaluateOperator(_PerVersionOperator):
    """Run the Evidently gate for each candidate version; emits ``evaluated.<pipeline>``.

    Links: the MLflow run, the model version and the Evidently report of the last version evaluated.
    """

    operator_extra_links = (MlflowRunLink(), ModelVersionLink(), GateReportLink())
    ui_color = "#fde2e4"
    action = "evaluate"

    def __init__(self, *, pipeline: str, **kwargs: Any) -> None:
        kwargs.setdefault("outlets", [pipeline_asset("evaluated", pipeline)])
        super().__init__(pipeline=pipeline, **kwargs)

    def handle(self, config, version: int, context: Context) -> dict[str, Any]:
        from mlcycle.stages import modelling

        result = modelling.evaluate_model(config, version)
        self.log.info("v%s: gate %s %s", version, "PASSED" if result["passed"] else "FAILED", result["reasons"])
        return result

    def execute(self, context: Context) -> list[dict[str, Any]]:
        results = super().execute(context)
        context["outlet_events"][pipeline_asset("evaluated", self.pipeline)].extra = {
            "version": results[-1]["version"], "passed": results[-1]["passed"],
            "versions": [r["version"] for r in results]}
        return results


class RegisterOperator(_PerVersionOperator):
    """Promote versions that passed the gate (``champion`` moves), record those that failed.

    Run it in a one-slot pool with ``max_active_runs=1``: promotion is serialised.
    """

    operator_extra_links = (ModelVersionLink(), GateReportLink())
    ui_color = "#dcfce7"
    action = "register"

    def handle(self, config, version: int, context: Context) -> dict[str, Any]:
        from mlcycle.stages import modelling

        record = modelling.register_model(config, version, context["run_id"], context["params"].get("reason") or "")
        self.log.info("v%s: %s; champion is now v%s", version, record["action"], record["champion"])
        if record["action"] not in ("promote", "reject"):
            return record
        promoted = record["action"] == "promote"
        PromotionNotifier(pipeline=config.name, promoted=promoted,
                          title=f"{config.model_name} v{version} {'promoted to champion' if promoted else 'rejected'}",
                          message=record.get("reason", "") + f" (champion: v{record['champion']})",
                          details=record)(context)
        return record


class RollbackOperator(BaseOperator):
    """Move ``champion`` back to ``version`` (default: the previous champion) and record why."""

    template_fields: Sequence[str] = ("version", "reason")
    operator_extra_links = (ModelVersionLink(),)
    ui_color = "#fee2e2"

    def __init__(self, *, pipeline: str, version: Any = "{{ params.version or '' }}",
                 reason: str = "{{ params.reason }}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.version = version
        self.reason = reason

    def execute(self, context: Context) -> dict[str, Any]:
        from mlcycle.core import registry

        with fail_fast_on_data_errors():
            record = registry.rollback(self.pipeline, int(self.version) if self.version else None, self.reason,
                                       context["run_id"])
        experiment_id, run_id = _version_run(self.pipeline, int(record["to_version"]))
        _persist_links(self, context, int(record["to_version"]), experiment_id, run_id)
        return record


def _version_run(name: str, version: int) -> tuple[str, str]:
    from mlcycle.core import registry

    run_id = registry.version_info(name, version)["run_id"]
    return _experiment_of(run_id), run_id
