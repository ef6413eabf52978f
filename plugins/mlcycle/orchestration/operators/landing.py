"""Sensor for the day's file in the landing zone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowSensorTimeout

from mlcycle.core import landing

GRACE_SECONDS = 300  # Airflow's own deferral timeout, after the trigger's deadline: only a backstop


class LandingFileSensor(BaseSensorOperator):
    """Wait until ``uri`` is ready to read, by the pipeline's ``landing.ready`` rule (see
    :mod:`mlcycle.core.landing`): ``stable`` (unchanged for ``stable_seconds``), ``marker`` (the companion
    file ``marker`` exists beside it) or ``exists``; ``auto`` is stable on ``file://``, exists on ``s3://``.

    With ``deferrable=True`` the wait frees its worker slot: the triggerer runs
    :class:`~mlcycle.orchestration.triggers.LandingFileTrigger`. At the timeout the task fails, without
    retries, with a message that names the file and what was last seen of it.

    :param uri: templated URI of the expected file, e.g. ``s3://landing/flights/flights_{{ ds }}.csv``.
    """

    template_fields: Sequence[str] = ("uri",)
    ui_color = "#d9f0ff"

    def __init__(self, *, uri: str, ready: str = "auto", stable_seconds: float = 60, marker: str = "{file}.done",
                 deferrable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.uri = uri
        self.ready = ready
        self.stable_seconds = stable_seconds
        self.marker = marker
        self.deferrable = deferrable
        self._last: landing.Look | None = None

    @property
    def ready_mode(self) -> str:
        return landing.ready_mode(self.ready, self.uri)

    @property
    def marker_uri(self) -> str | None:
        return landing.companion(self.uri, self.marker) if self.ready_mode == "marker" else None

    def poke(self, context: Context) -> bool:
        current = landing.look(self.uri, self.marker_uri)
        ready = landing.is_ready(self.ready_mode, self._last, current, time.time(), self.stable_seconds)
        self.log.info("%s %s (%s): %s", self.uri, "is ready" if ready else "is not ready yet", self.ready_mode, current)
        self._last = current
        return ready

    def _timed_out(self) -> AirflowSensorTimeout:
        return AirflowSensorTimeout(landing.timeout_message(self.uri, self.ready_mode, self.timeout / 60, self._last,
                                                            self.marker_uri))

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as exc:
                raise self._timed_out() from exc
        if self.poke(context):
            return None
        self.defer(trigger=self._trigger(), method_name="execute_complete",
                   timeout=dt.timedelta(seconds=self.timeout + GRACE_SECONDS))
        return None

    def _trigger(self):
        """The trigger the wait defers to, from now until the timeout, continuing from the last look."""
        from mlcycle.orchestration.triggers import LandingFileTrigger

        return LandingFileTrigger(
            uri=self.uri, mode=self.ready_mode, deadline=time.time() + self.timeout, timeout_minutes=self.timeout / 60,
            poke_interval=self.poke_interval, stable_seconds=self.stable_seconds, marker_uri=self.marker_uri,
            previous=dataclasses.asdict(self._last) if self._last else None)

    def execute_complete(self, context: Context, event: Any = None) -> None:
        status = event.get("status") if isinstance(event, dict) else None
        if status == "timeout":
            raise AirflowSensorTimeout(event["message"])
        if status != "success":
            raise RuntimeError(f"waiting for {self.uri} failed: {event}")
        self.log.info("%s is ready (%s): %s", self.uri, self.ready_mode, event.get("look"))

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Airflow's own deferral timeout (a backstop): the same message, naming the file."""
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout as exc:
            if next_method == "execute_complete":
                raise
            self._last = landing.look(self.uri, self.marker_uri)  # this process has not looked yet
            raise self._timed_out() from exc
