"""The base of every pipeline operator: the pipeline, its config, its Asset, and bad data failing fast.

One rule for outlets: an operator that publishes an Asset (``emits``) declares it as its outlet when
``outlets`` is not given; a given list, even ``[]``, is taken as it is (``[]``: publish nothing, e.g.
a hand-written DAG that gates its own model). Airflow's ``partial()`` fills in ``outlets=[]``, so a
mapped operator passes its outlets to ``partial()``, as the factory does.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from mlcycle import settings
from mlcycle.errors import DataError
from mlcycle.orchestration.assets import pipeline_asset
from mlcycle.orchestration.notifiers import IncidentNotifier
from mlcycle.stages import libraries

if TYPE_CHECKING:
    from mlcycle.core.config import PipelineConfig
    from mlcycle.stages.ingestion import Chunk
    from mlcycle.stages.policy import Decision

EMPTY = (None, "", "None")  # what an unset Param renders to in a templated field
TIMING = "task timing:"  # the log line that splits a task's time (read by bench/backfill)


class PipelineOperator(BaseOperator):
    """An operator of one pipeline (``include/pipelines/<pipeline>.yaml``); subclasses implement :meth:`run`.

    :param pipeline: name of a config in ``include/pipelines``.
    """

    emits: ClassVar[str | None] = None  # the Asset kind this operator publishes, if any
    heavy_imports: ClassVar[tuple[str, ...]] = ()  # what run() imports at first use (mlcycle.stages.libraries)

    def __init__(self, *, pipeline: str, **kwargs: Any) -> None:
        if self.emits and kwargs.get("outlets") is None:
            kwargs["outlets"] = [pipeline_asset(self.emits, pipeline)]
        super().__init__(**kwargs)
        self.pipeline = pipeline

    @functools.cached_property
    def config(self) -> PipelineConfig:
        """The pipeline's config, loaded once per task run (never at DAG parse time)."""
        from mlcycle.core.config import load_pipeline

        return load_pipeline(self.pipeline)

    def run(self, context: Context) -> Any:
        raise NotImplementedError

    def execute(self, context: Context) -> Any:
        """:meth:`run`, with bad data or config failing the task at once: retries cannot fix a bad file.

        The MLflow password of the environment is masked in the task's log first. The log ends with a
        :data:`TIMING` line: when ``execute`` was entered, and when its imports and its work ended (epoch
        seconds), which ``python -m bench backfill`` joins with the task instance's timestamps."""
        from airflow.sdk.log import mask_secret

        if password := settings.mlflow_client_password():
            mask_secret(password)
        marks = {"entered": time.time()}
        libraries.load(self.heavy_imports)
        marks["imported"] = time.time()
        try:
            return self.run(context)
        except DataError as exc:
            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
        finally:
            marks["worked"] = time.time()
            self.log.info("%s %s", TIMING, " ".join(f"{k}={v:.3f}" for k, v in marks.items()))

    def emit(self, context: Context, extra: dict[str, Any]) -> None:
        """Attach ``extra`` to the event of this operator's Asset, when it is one of its outlets."""
        asset = pipeline_asset(self.emits, self.pipeline)
        if any(getattr(outlet, "name", None) == asset.name for outlet in self.outlets):
            context["outlet_events"][asset].extra = extra
        else:
            self.log.info("%s is not an outlet of this task: no event", asset.name)

    def publish(self, context: Context, chunk: Chunk) -> dict[str, Any] | None:
        """Emit the event of a chunk of days (:class:`mlcycle.stages.ingestion.Chunk`), then fail for its refused
        days. One day: that day's result, as a daily run always had; several: ``days`` and ``partitions`` (each
        day's result). Returns the event's extra (None when no day was published)."""
        extra = None
        if chunk.done:
            extra = chunk.done[0] if len(chunk.done) == 1 else {"days": [r["ds"] for r in chunk.done],
                                                                 "partitions": chunk.done}
            self.emit(context, extra)
        chunk.raise_failures()  # a failed task emits no event: the days it published wait for the next one
        return extra

    def guard_champion(self, context: Context, enforce: bool = True) -> Decision:
        """Audit the champion and refuse one that may not serve (:func:`mlcycle.stages.policy.before_consuming`);
        an incident is notified on every channel. ``enforce=False`` only reports."""
        from mlcycle.stages import policy

        decision = policy.before_consuming(self.config)
        if decision.incident:
            IncidentNotifier(pipeline=self.pipeline, incident=decision.incident)(context)
        if enforce:
            self.apply(decision)
        return decision

    @staticmethod
    def optional(value: Any, cast: type | None = None) -> Any:
        """A templated value, or None when its Param was left empty."""
        if value in EMPTY:
            return None
        return cast(value) if cast else value

    @staticmethod
    def apply(decision: Decision) -> None:
        """Translate a policy decision: skip or fail the task; ``run`` goes on."""
        if decision.action == "skip":
            raise AirflowSkipException(decision.reason)
        if decision.action == "fail":
            raise AirflowFailException(decision.reason)


def trigger_extras(context: Context) -> list[dict[str, Any]]:
    """The triggering Asset events' extras, each with the Asset it came from."""
    return [{"asset": str(getattr(event, "asset", "")), **(event.extra or {})}
            for events in context["triggering_asset_events"].values() for event in events]



def event_days(extras: list[dict[str, Any]]) -> set[str]:
    """The days named by Asset events' extras: ``ds`` of a one-day event, ``days`` of a chunk's."""
    return {day for extra in extras for day in ([extra["ds"]] if "ds" in extra else extra.get("days", []))}


def chunk_size(extras: list[dict[str, Any]], default: int) -> int:
    """Days per task for the days these events announce: as many as the largest event (1 for daily runs'
    events), ``default`` without events (a run by hand)."""
    return max((len(extra.get("days", [None])) for extra in extras), default=default)


def as_days(value: str | list[str]) -> list[str]:
    """A mapped ``ds``: one day (a string), or a chunk of days (a list)."""
    return [value] if isinstance(value, str) else [str(day) for day in value]
