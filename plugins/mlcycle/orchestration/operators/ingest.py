"""Ingest one landed file into the lake's ``raw`` zone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from mlcycle.orchestration.operators.base import PipelineOperator


class IngestDatesOperator(BaseOperator):
    """The days a run ingests: every day from ``from_date`` to ``to_date`` (a backfill from the trigger
    form), else the run's own day ``ds``. Returns a list for dynamic task mapping."""

    template_fields: Sequence[str] = ("ds", "from_date", "to_date")

    def __init__(self, *, ds: str = "{{ ds | default('') }}", from_date: str = "{{ params.from_date or '' }}",
                 to_date: str = "{{ params.to_date or '' }}", max_days: int = 366, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ds = ds
        self.from_date = from_date
        self.to_date = to_date
        self.max_days = max_days

    def execute(self, context: Context) -> list[str]:
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
    """Read, check and type the day's landed CSV, write ``raw/<pipeline>/ds=<ds>``, version it with DVC.

    Emits the ``raw.<pipeline>`` Asset with the partition's ``ds``, ``uri``, ``rows`` and DVC ``md5``.

    :param ds: templated partition date (default: the run's logical date).
    :param landing_uri: landing root; default ``$MLCYCLE_LANDING_URI``.
    """

    template_fields: Sequence[str] = ("ds", "landing_uri")
    ui_color = "#e8f4e8"
    emits = "raw"

    def __init__(self, *, ds: str = "{{ ds }}", landing_uri: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ds = ds
        self.landing_uri = landing_uri

    def run(self, context: Context) -> dict[str, Any]:
        from mlcycle.stages import ingestion

        result = ingestion.ingest_day(self.config, self.ds, self.optional(self.landing_uri))
        self.emit(context, result)
        return result
