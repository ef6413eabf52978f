"""Sensor for the day's file in the landing zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, Context

from mlcycle import storage


class LandingFileSensor(BaseSensorOperator):
    """Wait until ``uri`` exists. With ``deferrable=True`` a ``file://`` wait frees its worker slot.

    :param uri: templated URI of the expected file, e.g. ``file:///landing/flights_{{ ds }}.csv``.
    """

    template_fields: Sequence[str] = ("uri",)
    ui_color = "#d9f0ff"

    def __init__(self, *, uri: str, deferrable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.uri = uri
        self.deferrable = deferrable

    def poke(self, context: Context) -> bool:
        self.log.info("Looking for %s", self.uri)
        return storage.exists(self.uri)

    def execute(self, context: Context) -> None:
        if not (self.deferrable and self.uri.startswith("file://")):
            super().execute(context)
        elif not self.poke(context):
            from airflow.providers.standard.triggers.file import FileTrigger

            self.defer(trigger=FileTrigger(filepath=storage.local_path(self.uri), poke_interval=self.poke_interval),
                       method_name="execute_complete", timeout=dt.timedelta(seconds=self.timeout))

    def execute_complete(self, context: Context, event: Any = None) -> None:
        self.log.info("Found %s", self.uri)
