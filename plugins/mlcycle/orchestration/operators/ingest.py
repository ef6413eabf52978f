"""Ingest one landed file into the lake's ``raw`` zone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from mlcycle.orchestration.operators.base import PipelineOperator, as_days
from mlcycle.stages import libraries


class IngestDatesOperator(BaseOperator):
    """The days a run ingests, in chunks: every day from ``from_date`` to ``to_date`` (a backfill from the
    trigger form), ``chunk_days`` days per chunk, else the run's own day ``ds`` (one chunk of one day).
    Returns a list of chunks (lists of days) for dynamic task mapping: one wait and one ingest per chunk.

    A day after ``last_day`` (the pipeline's ``schedule.end_date``) is refused with the way to extend it.
    """

    template_fields: Sequence[str] = ("ds", "from_date", "to_date", "chunk_days")

    def __init__(self, *, ds: str = "{{ ds | default('') }}", from_date: str = "{{ params.from_date or '' }}",
                 to_date: str = "{{ params.to_date or '' }}", chunk_days: str | int = "{{ params.chunk_days or '' }}",
                 default_chunk_days: int = 1, max_days: int = 366, last_day: str = "",
                 config_file: str = "the pipeline's config", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ds = ds
        self.from_date = from_date
        self.to_date = to_date
        self.chunk_days = chunk_days
        self.default_chunk_days = default_chunk_days
        self.max_days = max_days
        self.last_day = last_day
        self.config_file = config_file

    def execute(self, context: Context) -> list[list[str]]:
        dates = self._chunk(self._check(self._dates()))
        if len(dates) > 1 or len(dates[0]) > 1:
            self.log.info("%d chunk(s) of at most %d day(s)", len(dates), len(dates[0]))
        return dates

    def _chunk(self, dates: list[str]) -> list[list[str]]:
        from mlcycle.core import lake

        size = int(self.chunk_days) if str(self.chunk_days).strip() not in ("", "None") else self.default_chunk_days
        try:
            return lake.chunks(dates, size)
        except ValueError as exc:
            raise AirflowFailException(f"chunk_days: {exc}") from exc

    def _check(self, dates: list[str]) -> list[str]:
        late = [d for d in dates if self.last_day and d > self.last_day]
        if late:
            raise AirflowFailException(
                f"{late[0]}{' ...' if len(late) > 1 else ''} is after schedule.end_date {self.last_day}, where this "
                f"pipeline stops. To ingest later days, set schedule.end_date in {self.config_file} to the new last "
                "day (or null), wait for the next DAG parse, and trigger again")
        return dates

    def _dates(self) -> list[str]:
        import datetime as dt

        if not (self.from_date or self.to_date):
            if not self.ds:
                raise AirflowFailException("this run has no logical date: give it one, or set From / To")
            return [self.ds]
        first = dt.date.fromisoformat(self.from_date or self.to_date)
        last = dt.date.fromisoformat(self.to_date or self.from_date)
        days = (last - first).days + 1
        if not 1 <= days <= self.max_days:
            raise AirflowFailException(f"from_date {first} .. to_date {last} must be in order and span at most "
                                       f"{self.max_days} days")
        dates = [(first + dt.timedelta(days=i)).isoformat() for i in range(days)]
        self.log.info("backfill of %d day(s): %s .. %s", len(dates), dates[0], dates[-1])
        return dates


class IngestOperator(PipelineOperator):
    """Read, check and type each day's landed CSV, write ``raw/<pipeline>/ds=<day>``, version them with DVC
    (one add and push per task).

    Emits the ``raw.<pipeline>`` Asset: one day's ``ds``, ``uri``, ``rows`` and DVC ``md5``; a chunk's
    ``days`` and ``partitions`` (those per day). A day with a bad file fails the task after the other days
    are published; a retry keeps the days an earlier try of the run published
    (:func:`mlcycle.stages.ingestion.ingest_days`).

    :param ds: templated partition date (default: the run's logical date), or a list of days (a chunk).
    :param landing_uri: landing root; default ``$MLCYCLE_LANDING_URI``.
    """

    template_fields: Sequence[str] = ("ds", "landing_uri")
    ui_color = "#e8f4e8"
    emits = "raw"
    heavy_imports = libraries.INGEST

    def __init__(self, *, ds: str | list[str] = "{{ ds }}", landing_uri: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ds = ds
        self.landing_uri = landing_uri

    def run(self, context: Context) -> dict[str, Any] | None:
        from mlcycle.stages import ingestion

        chunk = ingestion.ingest_days(self.config, as_days(self.ds), self.optional(self.landing_uri),
                                      run_id=context["run_id"])
        return self.publish(context, chunk)
