"""The Airflow plugin: registers the operator extra links so the UI can show them."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mlcycle.links import DriftReportLink, GateReportLink, MlflowRunLink, ModelVersionLink


class MlcyclePlugin(AirflowPlugin):
    name = "mlcycle"
    operator_extra_links = [MlflowRunLink(), ModelVersionLink(), GateReportLink(), DriftReportLink()]
