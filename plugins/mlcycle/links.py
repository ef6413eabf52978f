"""Operator extra links: from a task to its MLflow run, its model version and its Evidently report.

The operator persists the URL in XCom during ``execute`` (as the amazon provider's links do), so
the UI shows the link without recomputing anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator, Context


class _PersistedLink(BaseOperatorLink):
    name: ClassVar[str]

    @property
    def xcom_key(self) -> str:
        return f"_link_{type(self).__name__}"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(key=self.xcom_key, ti_key=ti_key) or ""

    @classmethod
    def persist(cls, context: Context, url: str) -> None:
        context["ti"].xcom_push(key=cls().xcom_key, value=url)


class MlflowRunLink(_PersistedLink):
    name = "MLflow run"


class ModelVersionLink(_PersistedLink):
    name = "Model version"


class GateReportLink(_PersistedLink):
    name = "Evidently report"


class DriftReportLink(_PersistedLink):
    name = "Drift report"


def monitoring_urls(ui: str, experiment_id: str, run_id: str) -> dict[type[_PersistedLink], str]:
    """A monitoring run and the drift report attached to it."""
    run = f"{ui}/#/experiments/{experiment_id}/runs/{run_id}"
    return {MlflowRunLink: run, DriftReportLink: f"{run}/artifacts/monitoring/drift_report.html"}


def mlflow_urls(ui: str, name: str, version: int, experiment_id: str, run_id: str) -> dict[str, Any]:
    """The three URLs, from the MLflow UI base URL and a model version's ids."""
    return {
        MlflowRunLink: f"{ui}/#/experiments/{experiment_id}/runs/{run_id}",
        ModelVersionLink: f"{ui}/#/models/{name}/versions/{version}",
        # the MLflow UI renders HTML artifacts inline (its download endpoint would only save the file)
        GateReportLink: f"{ui}/#/experiments/{experiment_id}/runs/{run_id}/artifacts/evaluation/gate_report.html",
    }
