"""The request log's in-process side: requests go into a memory queue, a thread writes them to the lake.

A request only appends to a ``deque`` (thread-safe, no lock, no I/O): it never waits on storage. Every
``flush_seconds`` the flusher drains the queue, computes the shadow predictions (the challenger's work
never delays the answer), and writes one part file per pipeline and day
(:func:`mlcycle.core.requestlog.write_part`). A failed write keeps the rows for the next flush, up to
``capacity`` rows; past that, new rows are dropped and counted (``mlcycle_serving_log_dropped_rows_total``).

What ``kill -9`` loses: the rows still in the queue, i.e. at most the last ``flush_seconds`` of requests
(plus any backlog a failing lake left). A normal stop (SIGTERM, SIGINT) flushes first.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.core import requestlog, training
from mlcycle.serving import metrics

if TYPE_CHECKING:
    import pandas as pd

    from mlcycle.serving.models import Loaded, Slot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One answered request: its input, the champion's answer, and the shadow model of that moment."""

    request_id: str
    received: dt.datetime
    frame: pd.DataFrame
    champion: Loaded
    predicted: Any
    probability: Any
    shadow: Loaded | None


def new_request_id() -> str:
    return uuid.uuid4().hex


class Recorder(threading.Thread):
    """The queue and its flusher thread."""

    def __init__(self, slots: dict[str, Slot], flush_seconds: float, capacity: int = 500_000) -> None:
        super().__init__(name="mlcycle-request-log", daemon=True)
        self.slots, self.flush_seconds, self.capacity = slots, flush_seconds, capacity
        self.queue: collections.deque[Entry] = collections.deque()
        self.queued_rows = 0
        self._stop, self._flush_lock = threading.Event(), threading.Lock()

    def record(self, entry: Entry) -> None:
        if self.queued_rows + len(entry.frame) > self.capacity:
            metrics.LOG_DROPPED.labels(entry.champion.pipeline).inc(len(entry.frame))
            return
        self.queued_rows += len(entry.frame)  # approximate under races: only the capacity check reads it
        self.queue.append(entry)

    def run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def stop(self) -> None:
        self._stop.set()
        self.flush()

    def flush(self) -> list[str]:
        """Write what is queued; returns the part URIs written."""
        with self._flush_lock:
            drained: list[Entry] = []
            while self.queue:
                drained.append(self.queue.popleft())
            groups: dict[tuple[str, str], list[Entry]] = collections.defaultdict(list)
            for entry in drained:
                groups[entry.champion.pipeline, entry.received.date().isoformat()].append(entry)
            written = []
            for (pipeline, ds), entries in groups.items():
                try:
                    written.append(requestlog.write_part(pipeline, ds, self._frame(entries)))
                    self.queued_rows -= sum(len(e.frame) for e in entries)
                except Exception as exc:  # the lake is down: keep the rows for the next flush
                    log.warning("request log of %s %s not written (%s); kept for the next flush", pipeline, ds, exc)
                    metrics.LOG_FAILURES.labels(pipeline).inc()
                    self.queue.extendleft(reversed(entries))
            return written

    def _frame(self, entries: list[Entry]) -> pd.DataFrame:
        """One frame of every entry's rows, built column by column (no per-request frame operations)."""
        import numpy as np
        import pandas as pd

        sizes = [len(e.frame) for e in entries]
        rows = pd.concat([e.frame for e in entries], ignore_index=True)
        rows["request_id"] = np.repeat([e.request_id for e in entries], sizes)
        rows["received_at"] = pd.to_datetime(np.repeat([e.received for e in entries], sizes), utc=True)
        rows["prediction"] = np.concatenate([np.asarray(e.predicted) for e in entries])
        if all(e.probability is not None for e in entries):
            rows["probability"] = np.concatenate([np.asarray(e.probability) for e in entries])
        for name, attribute in (("model_name", "name"), ("model_version", "version"), ("model_run_id", "run_id")):
            rows[name] = np.repeat([getattr(e.champion, attribute) for e in entries], sizes)
        return self._with_shadow(rows, entries, sizes)

    def _with_shadow(self, rows: pd.DataFrame, entries: list[Entry], sizes: list[int]) -> pd.DataFrame:
        """The shadow model of each request's moment, run once per shadow version on its rows."""
        import numpy as np

        shadows = np.repeat([e.shadow.version if e.shadow else 0 for e in entries], sizes)
        models = {e.shadow.version: e.shadow for e in entries if e.shadow}
        for version, shadow in models.items():
            mine = shadows == version
            config = self.slots[shadow.pipeline].config
            try:
                predicted, probability = training.predict(shadow.model, rows[mine], config)
            except Exception as exc:  # a broken challenger never costs the champion's log
                log.warning("%s: shadow v%s failed on logged requests (%s)", shadow.pipeline, version, exc)
                continue
            rows.loc[mine, "shadow_version"] = version
            rows.loc[mine, "shadow_prediction"] = predicted
            if probability is not None:
                rows.loc[mine, "shadow_probability"] = probability
        return rows


