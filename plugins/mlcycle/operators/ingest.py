"""Ingest one landed file into the lake's ``raw`` zone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context

from mlcycle.assets import pipeline_asset
from mlcycle.operators._failfast import fail_fast_on_data_errors


class IngestOperator(BaseOperator):
    """Read, check and type the day's landed CSV, write ``raw/<pipeline>/ds=<ds>``, version it with DVC.

    Emits the ``raw.<pipeline>`` Asset with the partition's ``ds``, ``uri``, ``rows`` and DVC ``md5``.

    :param pipeline: name of a config in ``include/pipelines``.
    :param ds: templated partition date (default: the run's logical date).
    :param landing_uri: landing root; default ``$MLCYCLE_LANDING_URI``.
    """

    template_fields: Sequence[str] = ("ds", "landing_uri")
    ui_color = "#e8f4e8"

    def __init__(self, *, pipeline: str, ds: str = "{{ ds }}", landing_uri: str | None = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("outlets", [pipeline_asset("raw", pipeline)])
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.ds = ds
        self.landing_uri = landing_uri

    def execute(self, context: Context) -> dict[str, Any]:
        from mlcycle import steps
        from mlcycle.config import load_pipeline

        with fail_fast_on_data_errors():
            result = steps.ingest_day(load_pipeline(self.pipeline), self.ds, self.landing_uri)
        context["outlet_events"][pipeline_asset("raw", self.pipeline)].extra = result
        return result
