"""Validate ``raw`` partitions with Great Expectations and publish the passing rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from mlcycle.orchestration.operators.base import PipelineOperator, trigger_extras
from mlcycle.stages import libraries


class ResolvePartitionsOperator(PipelineOperator):
    """List the dates a run of ``stage`` (validate, score, monitor) must handle (see
    :func:`mlcycle.stages.policy.days_to_handle`: the ``ds`` Param, else what the lake says is pending).
    For score and monitor, the champion is audited and checked first (:meth:`guard_champion`).

    Returns a list for dynamic task mapping; an empty list skips the mapped task.
    """

    template_fields: Sequence[str] = ("ds",)

    def __init__(self, *, stage: str = "validate", ds: str | None = "{{ params.ds or '' }}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stage = stage
        self.ds = ds

    def run(self, context: Context) -> list[str]:
        from mlcycle.stages import policy

        if self.stage in ("score", "monitor"):  # the start of every consumer of the champion
            self.guard_champion(context)
        event_days = {extra["ds"] for extra in trigger_extras(context) if "ds" in extra}
        work = policy.days_to_handle(self.config, self.stage, self.optional(self.ds), event_days)
        self.log.info("%s", work.reason)
        return work.days


class ValidateOperator(PipelineOperator):
    """Run the pipeline's GX suite on ``raw/<pipeline>/ds=<ds>``.

    Failing rows go to quarantine with the expectations they failed; the batch fails (nothing
    published) on a table-level failure, when too many rows fail, or when the day's row count is far
    from the recent normal (unless ``accept_volume``, the Param of the same name, is true). Passing rows are written to
    ``validated/<pipeline>/ds=<ds>`` and the ``validated.<pipeline>`` Asset is emitted.
    """

    template_fields: Sequence[str] = ("ds", "accept_volume")
    ui_color = "#fff4d6"
    emits = "validated"
    heavy_imports = libraries.VALIDATE

    def __init__(self, *, ds: str, accept_volume: str | bool = "{{ params.accept_volume | default(false) }}",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ds = ds
        self.accept_volume = accept_volume

    def run(self, context: Context) -> dict[str, Any]:
        from mlcycle.stages import ingestion

        accept = str(self.accept_volume).lower() == "true"
        result = ingestion.validate_day(self.config, self.ds, f"{self.pipeline}-{self.ds}-{context['run_id']}",
                                        accept_volume=accept)
        self.emit(context, result)
        self._notify_quarantine(result, context)
        return result

    def _notify_quarantine(self, result: dict[str, Any], context: Context) -> None:
        from mlcycle.orchestration.notifiers import QuarantineNotifier

        share = result["quarantined_rows"] / max(1, result["rows"] + result["quarantined_rows"])
        limit = self.config.validation.notify_quarantine_share
        if share > limit:
            QuarantineNotifier(pipeline=self.pipeline, title=f"{self.pipeline} {result['ds']}: {share:.1%} of rows "
                               "quarantined",
                               message=f"{result['quarantined_rows']} rows failed {result['failed_expectations']} "
                                       f"(notification threshold {limit:.0%}); they are in {result['quarantine_uri']}",
                               details=result)(context)
