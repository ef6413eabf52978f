"""Each task instance's time, split into phases: the REST API's timestamps joined with the operator's log line.

The task instance's ``start_date`` is when its supervisor had forked the task process (just before telling
the API it runs). The ``task timing:`` line (:data:`mlcycle.orchestration.operators.base.TIMING`) gives, in
epoch seconds, when the task entered ``execute`` (``entered``), finished its heavy imports (``imported``)
and its work (``worked``). Tasks that are not pipeline operators (the sensor, the date
list) have no such line: their running time counts as ``work``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

PHASES = ("scheduled", "queued", "start", "imports", "work", "finish")
_LINE = re.compile(r"task timing: ((?:\w+=[\d.]+ ?)+)")


def epoch(stamp: str | None) -> float | None:
    return dt.datetime.fromisoformat(stamp).timestamp() if stamp else None


def read_logs(root: Path) -> dict[tuple[str, str, str, int, int], dict[str, float]]:
    """The last timing line of every task log under ``root``, by (dag, run, task, map index, attempt)."""
    found = {}
    for path in root.rglob("attempt=*.log"):
        parts = dict(p.split("=", 1) for p in path.relative_to(root).with_suffix("").parts if "=" in p)
        lines = _LINE.findall(path.read_text(errors="replace"))
        if lines and {"dag_id", "run_id", "task_id", "attempt"} <= parts.keys():
            key = (parts["dag_id"], parts["run_id"], parts["task_id"], int(parts.get("map_index", -1)),
                   int(parts["attempt"]))
            found[key] = {k: float(v) for k, v in (pair.split("=") for pair in lines[-1].split())}
    return found


def _gap(later: float | None, earlier: float | None) -> float | None:
    return later - earlier if later is not None and earlier is not None else None


def join(tasks: list[dict[str, Any]], logged: dict) -> list[dict[str, Any]]:
    """One row per task instance that ran: its name, state and phases (seconds; None when unknown)."""
    rows = []
    for ti in tasks:
        start, end = epoch(ti.get("start_date")), epoch(ti.get("end_date"))
        if start is None or end is None:
            continue
        queued, scheduled = epoch(ti.get("queued_when")), epoch(ti.get("scheduled_when"))
        marks = logged.get((ti["dag_id"], ti["dag_run_id"], ti["task_id"], ti["map_index"], ti["try_number"]), {})
        phases = {"scheduled": _gap(queued, scheduled), "queued": _gap(start, queued)}
        if marks:
            phases.update(start=marks["entered"] - start, imports=marks["imported"] - marks["entered"],
                          work=marks["worked"] - marks["imported"], finish=end - marks["worked"])
        else:
            phases.update(start=None, imports=None, work=end - start, finish=None)
        rows.append({"task": f"{ti['dag_id'].split('_')[0]}.{ti['task_id']}", "state": ti["state"],
                     "end": end, "running": end - start, **phases})
    return rows
