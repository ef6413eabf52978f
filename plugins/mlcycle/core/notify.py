"""Notifications: every one goes to the log and to a JSON-lines file; Slack and e-mail when configured.

The file is ``$MLCYCLE_HOME/notifications.jsonl`` (``MLCYCLE_NOTIFICATIONS_FILE`` to move it). No
Airflow here: :mod:`mlcycle.orchestration.notifiers` adds the channels that go through Airflow connections.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from mlcycle import settings
from mlcycle.core.locks import file_lock

log = logging.getLogger(__name__)
EVENTS = ("task_failed", "quarantine", "drift", "promotion", "rejection", "incident")


def record(event: str, pipeline: str, title: str, message: str, details: dict[str, Any] | None = None) -> dict:
    """Append one notification to the file and the log; returns it."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event '{event}', expected one of {EVENTS}")
    entry = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "event": event, "pipeline": pipeline,
             "title": title, "message": message, "details": details or {}}
    path = settings.notifications_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.with_suffix(".lock")), path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry, default=str) + "\n")
    log.warning("NOTIFICATION [%s] %s: %s", event, title, message)
    return entry


def read(pipeline: str | None = None) -> list[dict[str, Any]]:
    """Notifications recorded so far, oldest first (optionally of one pipeline)."""
    path = settings.notifications_file()
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [e for e in entries if pipeline is None or e["pipeline"] == pipeline]
