"""Validate ``raw`` partitions with Great Expectations and publish the passing rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from mlcycle.orchestration.operators.base import PipelineOperator, as_days, chunk_size, event_days, trigger_extras
from mlcycle.stages import libraries


class ResolvePartitionsOperator(PipelineOperator):
    """List the dates a run of ``stage`` (validate, score, monitor) must handle (see
    :func:`mlcycle.stages.policy.days_to_handle`: the ``ds`` Param, else what the lake says is pending).
    For score and monitor, the champion is audited and checked first (:meth:`guard_champion`).

    Returns a list for dynamic task mapping; an empty list skips the mapped task. For validate, a list of
    chunks (lists of days) as long as the triggering ``raw`` events' chunks (one day each on daily runs); a
    run by hand without events chunks by ``schedule.backfill_chunk_days``.
    """

    template_fields: Sequence[str] = ("ds",)

    def __init__(self, *, stage: str = "validate", ds: str | None = "{{ params.ds or '' }}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stage = stage
        self.ds = ds

    def run(self, context: Context) -> list[str] | list[list[str]]:
        from mlcycle.core import lake
        from mlcycle.stages import policy

        if self.stage in ("score", "monitor"):  # the start of every consumer of the champion
            self.guard_champion(context)
        extras = trigger_extras(context)
        work = policy.days_to_handle(self.config, self.stage, self.optional(self.ds), event_days(extras))
        self.log.info("%s", work.reason)
        if self.stage != "validate":
            return work.days
        return lake.chunks(work.days, chunk_size(extras, self.config.schedule.backfill_chunk_days))


class ValidateOperator(PipelineOperator):
    """Run the pipeline's GX suite on ``raw/<pipeline>/ds=<ds>`` (each day of a chunk, in order).

    Failing rows go to quarantine with the expectations they failed; the batch fails (nothing
    published) on a table-level failure, when too many rows fail, or when the day's row count is far
    from the recent normal (unless ``accept_volume``, the Param of the same name, is true). Passing rows are written to
    ``validated/<pipeline>/ds=<ds>`` and the ``validated.<pipeline>`` Asset is emitted (one event per task;
    see :meth:`PipelineOperator.publish`). A retry keeps the days an earlier try of the run published.
    """

    template_fields: Sequence[str] = ("ds", "accept_volume")
    ui_color = "#fff4d6"
    emits = "validated"
    heavy_imports = libraries.VALIDATE

    def __init__(self, *, ds: str | list[str],
                 accept_volume: str | bool = "{{ params.accept_volume | default(false) }}",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ds = ds
        self.accept_volume = accept_volume

    def run(self, context: Context) -> dict[str, Any] | None:
        from mlcycle.stages import ingestion

        accept = str(self.accept_volume).lower() == "true"
        chunk = ingestion.validate_days(self.config, as_days(self.ds), context["run_id"], accept_volume=accept)
        for result in chunk.done:
            if result["ds"] not in chunk.resumed:  # an earlier try notified it
                self._notify_quarantine(result, context)
        return self.publish(context, chunk)

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
