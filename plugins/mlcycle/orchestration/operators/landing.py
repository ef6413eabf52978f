"""Sensor for the day's file in the landing zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, Context

from mlcycle.core import object_store, storage


class LandingFileSensor(BaseSensorOperator):
    """Wait until ``uri`` exists. With ``deferrable=True`` the wait frees its worker slot: the triggerer
    watches a ``file://`` path (FileTrigger) or an ``s3://`` key (the amazon provider's S3KeyTrigger).

    :param uri: templated URI of the expected file, e.g. ``s3://landing/flights/flights_{{ ds }}.csv``.
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

    def _trigger(self):
        if self.uri.startswith("file://"):
            from airflow.providers.standard.triggers.file import FileTrigger

            return FileTrigger(filepath=storage.local_path(self.uri), poke_interval=self.poke_interval)
        if object_store.is_s3(self.uri):
            from airflow.providers.amazon.aws.triggers.s3 import S3KeyTrigger

            bucket, key = object_store.split(self.uri)
            return S3KeyTrigger(bucket_name=bucket, bucket_key=key, aws_conn_id=object_store.conn_id(),
                                poke_interval=self.poke_interval)
        return None

    def execute(self, context: Context) -> None:
        trigger = self._trigger() if self.deferrable else None
        if trigger is None:
            super().execute(context)
        elif not self.poke(context):
            self.defer(trigger=trigger, method_name="execute_complete", timeout=dt.timedelta(seconds=self.timeout))

    def execute_complete(self, context: Context, event: Any = None) -> None:
        if isinstance(event, dict) and event.get("status") == "error":
            raise RuntimeError(f"waiting for {self.uri} failed: {event.get('message')}")
        self.log.info("Found %s", self.uri)
