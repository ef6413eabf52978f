"""Score and monitor each validated day with the champion; raise the drift Asset when it drifts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowSkipException

from mlcycle.orchestration import links
from mlcycle.orchestration.links import DriftReportLink, MlflowRunLink
from mlcycle.orchestration.notifiers import DriftNotifier
from mlcycle.orchestration.operators.base import PipelineOperator
from mlcycle.stages import libraries


class ScoreOperator(PipelineOperator):
    """Batch predictions of ``models:/<p>@champion`` for one day, to ``predictions/<p>/ds=<ds>``.

    Every row records the model version. Skipped, with the reason in the log, while there is no champion.
    """

    template_fields: Sequence[str] = ("ds",)
    ui_color = "#e0f2fe"
    heavy_imports = libraries.MODELS

    def __init__(self, *, ds: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ds = ds

    def run(self, context: Context) -> dict[str, Any]:
        from mlcycle.stages import scoring

        result = scoring.score_day(self.config, self.ds)
        if result is None:
            raise AirflowSkipException(f"{self.pipeline} has no champion yet: nothing to score {self.ds} with")
        return result


class MonitorOperator(PipelineOperator):
    """Evidently drift (data and model output) and quality of one day against the champion's training data.

    Thresholds come from the config unless ``drift_share`` / ``quality_drop`` override them.
    Links: the day's Evidently report and its MLflow monitoring run.
    """

    template_fields: Sequence[str] = ("ds", "drift_share", "quality_drop")
    operator_extra_links = (DriftReportLink(), MlflowRunLink())
    ui_color = "#fef3c7"
    heavy_imports = libraries.MODELS

    def __init__(self, *, ds: str, drift_share: Any = "{{ params.drift_share }}",
                 quality_drop: Any = "{{ params.quality_drop }}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ds = ds
        self.drift_share = drift_share
        self.quality_drop = quality_drop

    def run(self, context: Context) -> dict[str, Any]:
        from mlcycle.stages import scoring

        result = scoring.monitor_day(self.config, self.ds, self.optional(self.drift_share, float),
                                     self.optional(self.quality_drop, float))
        if result is None:
            raise AirflowSkipException(f"{self.pipeline} has no champion yet: no reference to monitor {self.ds}")
        links.persist(self, context, links.monitoring_urls(self.pipeline, result["ds"], result["experiment_id"],
                                                           result["run_id"]))
        self.log.info("%s %s: %s", self.pipeline, self.ds, "; ".join(result["reasons"]) or "no drift")
        return result


class DriftAlertOperator(PipelineOperator):
    """Emit ``drift.<pipeline>`` when any monitored day drifted; skipped otherwise.

    The event's extra carries the partition, the drifted columns, the share, the quality drop and the
    report's URI, so the retraining run records why it ran.
    """

    template_fields: Sequence[str] = ("results",)
    ui_color = "#fecaca"
    emits = "drift"

    def __init__(self, *, results: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results

    def run(self, context: Context) -> dict[str, Any]:
        drifted = [r for r in (self.results or []) if r and r.get("drift")]
        if not drifted:
            raise AirflowSkipException(f"no drift in {self.pipeline}: nothing to raise")
        latest = max(drifted, key=lambda r: r["ds"])
        extra = {"pipeline": self.pipeline, "source": "monitor", "ds": latest["ds"],
                 "partition": latest["partition"],
                 "drifted_columns": latest["drifted_columns"], "share": latest["share"],
                 "quality_drop": latest["quality_drop"], "report_uri": latest["report_uri"],
                 "reasons": latest["reasons"], "champion": latest["champion"],
                 "drifted_days": sorted(r["ds"] for r in drifted)}
        self.emit(context, extra)
        DriftNotifier(pipeline=self.pipeline, title=f"drift in {self.pipeline} on {', '.join(extra['drifted_days'])}",
                      message="; ".join(latest["reasons"]) + f". Report: {latest['report_uri']}. "
                              f"train_{self.pipeline} follows on drift.{self.pipeline}.", details=extra)(context)
        return extra
