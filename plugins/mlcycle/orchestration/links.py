"""Operator extra links: from a task to its MLflow run, its model version and its Evidently report.

The operator persists the URL in XCom during ``execute`` (as the amazon provider's links do), so
the UI shows the link without recomputing anything. Evidently reports open inside Airflow: the
link leads to the plugin's "Drift reports" view (``/plugin/mlcycle-reports/...``), which shows the
report from the lake in the Airflow UI's frame, behind Airflow's login, the report itself in a sandboxed
frame (see :mod:`mlcycle.orchestration.ui` and :mod:`mlcycle.orchestration.ui.sandbox`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from airflow.sdk import BaseOperatorLink

from mlcycle import settings
from mlcycle.orchestration.ui import REPORTS_ROUTE, URL_PREFIX

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator, Context

    from mlcycle.core.config import PipelineConfig


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


def airflow_url() -> str:
    """Airflow's ``[api] base_url`` (``AIRFLOW__API__BASE_URL``); empty when unset, links are then site-relative."""
    from airflow.sdk.configuration import conf

    return (conf.get("api", "base_url", fallback=None) or "").rstrip("/")


def report_url(pipeline: str, page: str) -> str:
    """A page of the plugin's reports (``page`` e.g. ``drift/2013-07-01``), shown in the Airflow UI's frame.

    The UI's route ``/plugin/<url_route>/<path>`` opens the external view with ``<path>`` in its frame.
    """
    base = airflow_url()
    return f"{base}/plugin/{REPORTS_ROUTE}{urlsplit(base).path.rstrip('/')}{URL_PREFIX}/reports/{pipeline}/{page}"


def _mlflow(path: str) -> str:
    """A page of the MLflow UI (:func:`mlcycle.settings.mlflow_ui_url`); empty when there is no UI to link to."""
    ui = settings.mlflow_ui_url()
    return f"{ui}/#/{path}" if ui else ""


def monitoring_urls(pipeline: str, ds: str, experiment_id: str, run_id: str) -> dict[type[_PersistedLink], str]:
    """A monitoring run in MLflow and the day's drift report in Airflow."""
    return {MlflowRunLink: _mlflow(f"experiments/{experiment_id}/runs/{run_id}"),
            DriftReportLink: report_url(pipeline, f"drift/{ds}")}


def model_urls(config: PipelineConfig, version: int, experiment_id: str,
               run_id: str) -> dict[type[_PersistedLink], str]:
    """The MLflow run and model version (of the pipeline's registered model), and the version's gate report."""
    return {
        MlflowRunLink: _mlflow(f"experiments/{experiment_id}/runs/{run_id}"),
        ModelVersionLink: _mlflow(f"models/{config.model_name}/versions/{version}"),
        GateReportLink: report_url(config.name, f"gate/v{version}"),
    }


def persist(operator: BaseOperator, context: Context, urls: dict[type[_PersistedLink], str]) -> None:
    """Store the URLs of the links ``operator`` declares (the UI reads them from XCom)."""
    for link in operator.operator_extra_links:
        if type(link) in urls:
            type(link).persist(context, urls[type(link)])
