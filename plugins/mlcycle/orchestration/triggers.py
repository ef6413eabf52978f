"""The trigger of :class:`~mlcycle.orchestration.operators.LandingFileSensor`: waits in the triggerer until the
day's file is ready by the pipeline's rule (:mod:`mlcycle.core.landing`), on ``file://`` and ``s3://``.

The providers' triggers fire when a file or key exists; they cannot wait for a file to stop changing,
nor say at the deadline which file never came. This one looks with the core's rule (its blocking
``fsspec`` calls run in a thread), and fires once: ``success``, ``timeout`` (its own deadline, with a
message naming the file and what the last look saw) or ``error``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from mlcycle.core import landing


class LandingFileTrigger(BaseTrigger):
    """Fire when ``uri`` is ready by ``mode`` (stable, marker, exists), or at ``deadline`` (epoch seconds).

    :param previous: the sensor's last look (a :class:`~mlcycle.core.landing.Look` as a dict), so the
        ``stable`` rule compares the trigger's first look with it.
    """

    def __init__(self, *, uri: str, mode: str, deadline: float, timeout_minutes: float, poke_interval: float = 30.0,
                 stable_seconds: float = 60.0, marker_uri: str | None = None,
                 previous: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.uri, self.mode, self.marker_uri = uri, mode, marker_uri
        self.deadline, self.timeout_minutes = deadline, timeout_minutes
        self.poke_interval, self.stable_seconds = poke_interval, stable_seconds
        self.previous = previous

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "uri": self.uri, "mode": self.mode, "deadline": self.deadline, "timeout_minutes": self.timeout_minutes,
            "poke_interval": self.poke_interval, "stable_seconds": self.stable_seconds,
            "marker_uri": self.marker_uri, "previous": self.previous})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        previous = landing.Look(**self.previous) if self.previous else None
        while True:
            try:
                current = await asyncio.to_thread(landing.look, self.uri, self.marker_uri)
            except Exception as exc:  # storage errors: the sensor fails, and retries
                yield TriggerEvent({"status": "error", "message": f"looking at {self.uri} failed: {exc!r}"})
                return
            now = time.time()
            if landing.is_ready(self.mode, previous, current, now, self.stable_seconds):
                self.log.info("%s is ready (%s): %s", self.uri, self.mode, current)
                yield TriggerEvent({"status": "success", "look": dataclasses.asdict(current)})
                return
            if now >= self.deadline:
                message = landing.timeout_message(self.uri, self.mode, self.timeout_minutes, current, self.marker_uri)
                yield TriggerEvent({"status": "timeout", "message": message})
                return
            self.log.info("%s not ready yet (%s): %s", self.uri, self.mode, current)
            previous = current
            pause = landing.next_look_in(self.mode, current, now, self.stable_seconds, self.poke_interval)
            await asyncio.sleep(max(0.0, min(pause, self.deadline - now)))
