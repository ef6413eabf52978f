"""Train, evaluate, register and roll back models: thin operators over :mod:`mlcycle.stages.modelling`.

The policy (why a training runs, the cooldown, too little data, which versions) is
:mod:`mlcycle.stages.policy`'s; these operators translate its decisions into skip or fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from mlcycle.orchestration import links
from mlcycle.orchestration.links import GateReportLink, MlflowRunLink, ModelVersionLink
from mlcycle.orchestration.notifiers import PromotionNotifier
from mlcycle.orchestration.operators.base import PipelineOperator, trigger_extras
from mlcycle.stages import libraries


class _ModelOperator(PipelineOperator):
    heavy_imports = libraries.MODELS

    def persist_links(self, context: Context, version: int, experiment_id: str | None = None,
                      run_id: str | None = None) -> None:
        """Store the URLs of this operator's links to the version, its run and its gate report."""
        from mlcycle.stages import modelling

        if run_id is None:
            experiment_id, run_id = modelling.version_run(self.config, version)
        links.persist(self, context, links.model_urls(self.config, version, experiment_id, run_id))


class TrainOperator(_ModelOperator):
    """Train on the validated window ending at ``window_end`` and register the model as ``challenger``.

    Emits ``candidate.<pipeline>`` with the new version. Links: MLflow run, model version.
    """

    template_fields: Sequence[str] = ("window_end", "window_days", "estimator")
    operator_extra_links = (MlflowRunLink(), ModelVersionLink())
    ui_color = "#e0e7ff"
    emits = "candidate"

    def __init__(self, *, window_end: str | None = "{{ params.window_end or '' }}",
                 window_days: Any = "{{ params.window_days or '' }}",
                 estimator: str | None = "{{ params.estimator or '' }}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.window_end = window_end
        self.window_days = window_days
        self.estimator = estimator

    def run(self, context: Context) -> dict[str, Any]:
        from mlcycle.core.training import TrainingDataError
        from mlcycle.stages import modelling, policy

        run_type = getattr(context["dag_run"], "run_type", "manual")
        cause = policy.training_cause(trigger_extras(context), str(getattr(run_type, "value", run_type)),
                                      context["params"].get("reason") or "")
        self.log.info("cause of this training: %s", cause)
        self.apply(policy.before_training(self.config, cause))
        airflow = {"dag_id": self.dag_id, "run_id": context["run_id"], "task_id": self.task_id}
        try:
            result = modelling.train_model(self.config, self.optional(self.window_end),
                                           self.optional(self.window_days, int), self.optional(self.estimator),
                                           cause, airflow)
        except TrainingDataError as exc:
            self.apply(policy.too_little_data(self.config, cause, exc))
            raise
        self.persist_links(context, result["version"], result["experiment_id"], result["run_id"])
        self.emit(context, {"version": result["version"], "run_id": result["run_id"],
                            "snapshot_md5": result["snapshot_md5"]})
        return result


class _PerVersionOperator(_ModelOperator):
    """Handle each model version named by the ``version`` Param, or else by the triggering Asset events."""

    template_fields: Sequence[str] = ("version",)
    action: str = ""

    def __init__(self, *, version: Any = "{{ params.version or '' }}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.version = version

    def handle(self, version: int, context: Context) -> dict[str, Any]:
        raise NotImplementedError

    def run(self, context: Context) -> list[dict[str, Any]]:
        from mlcycle.stages import policy

        versions = policy.versions_to_handle(self.version, trigger_extras(context))
        if not versions:
            raise ValueError(f"no model version to {self.action}: trigger with {{\"version\": N}}, "
                             "or let the upstream Asset event name it")
        results = [self.handle(version, context) for version in versions]
        self.persist_links(context, versions[-1])
        return results


class EvaluateOperator(_PerVersionOperator):
    """Run the Evidently gate for each candidate version; emits ``evaluated.<pipeline>``.

    Links: the MLflow run, the model version and the Evidently report of the last version evaluated.
    """

    operator_extra_links = (MlflowRunLink(), ModelVersionLink(), GateReportLink())
    ui_color = "#fde2e4"
    action = "evaluate"
    emits = "evaluated"

    def handle(self, version: int, context: Context) -> dict[str, Any]:
        from mlcycle.stages import modelling

        result = modelling.evaluate_model(self.config, version)
        self.log.info("v%s: gate %s %s", version, "PASSED" if result["passed"] else "FAILED", result["reasons"])
        return result

    def run(self, context: Context) -> list[dict[str, Any]]:
        results = super().run(context)
        self.emit(context, {"version": results[-1]["version"], "passed": results[-1]["passed"],
                            "versions": [r["version"] for r in results]})
        return results


class RegisterOperator(_PerVersionOperator):
    """Promote versions that passed the gate (``champion`` moves), record those that failed.

    Run it in a one-slot pool with ``max_active_runs=1``: promotion is serialised.
    """

    operator_extra_links = (ModelVersionLink(), GateReportLink())
    ui_color = "#dcfce7"
    action = "register"

    def handle(self, version: int, context: Context) -> dict[str, Any]:
        from mlcycle.stages import modelling

        config = self.config
        request = f"{self.dag_id}/{context['run_id']}/approve" if config.promotion.approval == "required" else ""
        record = modelling.register_model(config, version, context["run_id"], context["params"].get("reason") or "",
                                          request)
        self.log.info("v%s: %s; champion is now v%s", version, record["action"], record["champion"])
        if record["action"] not in ("promote", "reject"):
            return record
        promoted = record["action"] == "promote"
        PromotionNotifier(pipeline=config.name, promoted=promoted,
                          title=f"{config.model_name} v{version} {'promoted to champion' if promoted else 'rejected'}",
                          message=record.get("reason", "") + f" (champion: v{record['champion']})",
                          details=record)(context)
        return record


class RollbackOperator(_ModelOperator):
    """Move ``champion`` back to ``version`` (default: the previous champion) and record why."""

    template_fields: Sequence[str] = ("version", "reason")
    operator_extra_links = (ModelVersionLink(),)
    ui_color = "#fee2e2"

    def __init__(self, *, version: Any = "{{ params.version or '' }}", reason: str = "{{ params.reason }}",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.version = version
        self.reason = reason

    def run(self, context: Context) -> dict[str, Any]:
        from mlcycle.stages import modelling

        record = modelling.rollback_model(self.config, self.optional(self.version, int), self.reason,
                                          context["run_id"])
        self.persist_links(context, int(record["to_version"]))
        return record


class AuditOperator(PipelineOperator):
    """Compare ``champion`` and ``previous`` with the pipeline's last promotion record: a move the pipeline
    did not make is recorded, notified and (``governance.on_manual_alias: revert``) undone.

    A champion that may not serve is reported in the log; the consumers refuse it (this task does not fail,
    so a schedule every few minutes does not repeat the notification)."""

    ui_color = "#ede9fe"

    def run(self, context: Context) -> dict[str, Any]:
        decision = self.guard_champion(context, enforce=False)
        if decision.action == "fail":
            self.log.warning("%s", decision.reason)
        return {"incident": decision.incident, "servable": decision.action == "run", "reason": decision.reason}
