"""Validate ``raw`` partitions with Great Expectations and publish the passing rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context

from mlcycle.orchestration.assets import pipeline_asset
from mlcycle.orchestration.operators._failfast import fail_fast_on_data_errors


def _pending(stage: str, config) -> list[str]:
    from mlcycle.stages import ingestion, modelling

    if stage == "validate":
        return ingestion.pending_validation(config)
    return modelling.pending_days(config, {"score": "predictions", "monitor": "monitoring"}[stage])


def _has_champion(config) -> bool:
    from mlcycle.core import registry

    return registry.champion(config.model_name) is not None


class ResolvePartitionsOperator(BaseOperator):
    """List the dates a run of ``stage`` (validate, score, monitor) must handle: the ``ds`` Param if
    set, else every day the stage has not handled yet. The lake is the work list, not the triggering
    Asset events: those can be coalesced or missed, and a queued event can name a day an earlier run
    already handled.

    Returns a list for dynamic task mapping; an empty list skips the mapped task.
    """

    template_fields: Sequence[str] = ("ds",)

    def __init__(self, *, pipeline: str, stage: str = "validate", ds: str | None = "{{ params.ds or '' }}",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.stage = stage
        self.ds = ds

    def execute(self, context: Context) -> list[str]:
        from mlcycle.core.config import load_pipeline

        if self.ds:
            return [self.ds]
        config = load_pipeline(self.pipeline)
        if self.stage != "validate" and not _has_champion(config):
            self.log.info("%s has no champion yet: nothing to %s. Train a model and let the gate promote it "
                          "(train_%s).", config.model_name, self.stage, config.name)
            return []
        dates = {event.extra["ds"] for events in context["triggering_asset_events"].values()
                 for event in events if "ds" in (event.extra or {})}
        pending = sorted(_pending(self.stage, config))
        self.log.info("dates from Asset events: %s (already handled: %s); days to %s: %s",
                      sorted(dates), sorted(dates - set(pending)), self.stage, pending)
        if not pending:
            self.log.info("nothing to %s: trigger with a date, e.g. {\"ds\": \"2013-01-01\"}", self.stage)
        return pending


class ValidateOperator(BaseOperator):
    """Run the pipeline's GX suite on ``raw/<pipeline>/ds=<ds>``.

    Failing rows go to quarantine with the expectations they failed; the batch fails (nothing
    published) on a table-level failure or when too many rows fail. Passing rows are written to
    ``validated/<pipeline>/ds=<ds>`` and the ``validated.<pipeline>`` Asset is emitted.
    """

    template_fields: Sequence[str] = ("ds",)
    ui_color = "#fff4d6"

    def __init__(self, *, pipeline: str, ds: str, **kwargs: Any) -> None:
        # not setdefault: a mapped task is re-created with outlets=[] unless partial() passes them
        kwargs["outlets"] = kwargs.get("outlets") or [pipeline_asset("validated", pipeline)]
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.ds = ds

    def execute(self, context: Context) -> dict[str, Any]:
        from mlcycle.core.config import load_pipeline
        from mlcycle.stages import ingestion

        run_name = f"{self.pipeline}-{self.ds}-{context['run_id']}"
        with fail_fast_on_data_errors():
            result = ingestion.validate_day(load_pipeline(self.pipeline), self.ds, run_name)
        context["outlet_events"][pipeline_asset("validated", self.pipeline)].extra = result
        _notify_quarantine(self.pipeline, result, context)
        return result


def _notify_quarantine(pipeline: str, result: dict[str, Any], context: Context) -> None:
    from mlcycle.core.config import load_pipeline
    from mlcycle.orchestration.notifiers import QuarantineNotifier

    share = result["quarantined_rows"] / max(1, result["rows"] + result["quarantined_rows"])
    limit = load_pipeline(pipeline).validation.notify_quarantine_share
    if share > limit:
        QuarantineNotifier(pipeline=pipeline, title=f"{pipeline} {result['ds']}: {share:.1%} of rows quarantined",
                           message=f"{result['quarantined_rows']} rows failed {result['failed_expectations']} "
                                   f"(notification threshold {limit:.0%}); they are in {result['quarantine_uri']}",
                           details=result)(context)
