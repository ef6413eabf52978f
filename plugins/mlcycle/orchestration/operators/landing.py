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

    :param uri: templated URI of the expected file, e.g. ``s3://landing/flights/flights_{{ ds }}.csv``, or a
        list of URIs (a chunk of days): the sensor waits until each is ready, deferring on one at a time.
    """

    template_fields: Sequence[str] = ("uri",)
    ui_color = "#d9f0ff"

    def __init__(self, *, uri: str | list[str], ready: str = "auto", stable_seconds: float = 60,
                 marker: str = "{file}.done", deferrable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.uri = uri
        self.ready = ready
        self.stable_seconds = stable_seconds
        self.marker = marker
        self.deferrable = deferrable
        self._last: dict[str, landing.Look] = {}
        self._ready: set[str] = set()

    @property
    def uris(self) -> list[str]:
        return [self.uri] if isinstance(self.uri, str) else list(self.uri)

    @property
    def ready_mode(self) -> str:
        return landing.ready_mode(self.ready, self.uris[0])

    def marker_of(self, uri: str) -> str | None:
        return landing.companion(uri, self.marker) if self.ready_mode == "marker" else None

    @property
    def marker_uri(self) -> str | None:
        return self.marker_of(self.uris[0])

    def waiting(self) -> list[str]:
        """Look at every file not seen ready yet; those still not ready."""
        for uri in self.uris:
            if uri in self._ready:
                continue
            current = landing.look(uri, self.marker_of(uri))
            if landing.is_ready(self.ready_mode, self._last.get(uri), current, time.time(), self.stable_seconds):
                self._ready.add(uri)
            self.log.info("%s %s (%s): %s", uri, "is ready" if uri in self._ready else "is not ready yet",
                          self.ready_mode, current)
            self._last[uri] = current
        return [uri for uri in self.uris if uri not in self._ready]

    def poke(self, context: Context) -> bool:
        return not self.waiting()

    def _timed_out(self) -> AirflowSensorTimeout:
        uri = next(iter(self.waiting() or self.uris))
        return AirflowSensorTimeout(landing.timeout_message(uri, self.ready_mode, self.timeout / 60,
                                                            self._last.get(uri), self.marker_of(uri)))

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as exc:
                raise self._timed_out() from exc
        self._defer_on_next(time.time() + self.timeout)
        return None

    def _defer_on_next(self, deadline: float) -> None:
        """Defer on the first file not ready yet (none: done), until ``deadline`` (epoch seconds) for them all."""
        waiting = self.waiting()
        if waiting:
            self.defer(trigger=self._trigger(waiting[0], deadline), method_name="execute_complete",
                       kwargs={"deadline": deadline},
                       timeout=dt.timedelta(seconds=max(0.0, deadline - time.time()) + GRACE_SECONDS))

    def _trigger(self, uri: str | None = None, deadline: float | None = None):
        """The trigger the wait on ``uri`` (default: the first) defers to, until ``deadline`` (default: the
        timeout from now), continuing from the last look."""
        from mlcycle.orchestration.triggers import LandingFileTrigger

        uri = uri or self.uris[0]
        last = self._last.get(uri)
        return LandingFileTrigger(
            uri=uri, mode=self.ready_mode, deadline=deadline or time.time() + self.timeout,
            timeout_minutes=self.timeout / 60,
            poke_interval=self.poke_interval, stable_seconds=self.stable_seconds, marker_uri=self.marker_of(uri),
            previous=dataclasses.asdict(last) if last else None)

    def execute_complete(self, context: Context, event: Any = None, deadline: float | None = None) -> None:
        """One file is ready: look at the others, and wait for the next one not ready yet."""
        status = event.get("status") if isinstance(event, dict) else None
        if status == "timeout":
            raise AirflowSensorTimeout(event["message"])
        if status != "success":
            raise RuntimeError(f"waiting for {', '.join(self.waiting())} failed: {event}")
        self.log.info("a file is ready (%s): %s", self.ready_mode, event.get("look"))
        self._defer_on_next(deadline or time.time() + self.timeout)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Airflow's own deferral timeout (a backstop): the same message, naming the file."""
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout as exc:
            if next_method == "execute_complete":
                raise
            raise self._timed_out() from exc  # waiting() looks, as this process has not looked yet
