"""Printing the backfill benchmark: wall times beside the plain script, and where each task's time goes."""

from __future__ import annotations

from typing import Any

from bench._harness.figures import median, ratio, say, secs, table
from bench.backfill.timing import PHASES


def print_all(results: dict[str, dict[str, Any]], days: int) -> None:
    say()
    base = results.get("plain", {}).get("wall")
    rows = [[label, secs(r["wall"], 1), ratio(r["wall"], base) if base else "-",
             secs(r["wall"] / days, 2), f"{r['validated']}/{days}"] for label, r in results.items()]
    table(rows, ["path", "wall", "vs plain", "per day", "validated"], right=(1, 2, 3, 4))
    for label, result in results.items():
        if "tasks" in result:
            _breakdown(label, result["tasks"])
    if "preload off" in results and "preload on" in results:
        _overhead(results["preload off"]["tasks"], results["preload on"]["tasks"])


def _figure(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return secs(median(known), 2) if known else "-"


def _breakdown(label: str, tasks: list[dict[str, Any]]) -> None:
    say(f"\n  scheduler, {label}: median seconds per task instance, by phase (sum over all instances last)")
    names = sorted({t["task"] for t in tasks}, key=lambda n: min(t["end"] for t in tasks if t["task"] == n))
    rows = []
    for name in names:
        mine = [t for t in tasks if t["task"] == name]
        rows.append([name, str(len(mine)), *(_figure([t[p] for t in mine]) for p in PHASES),
                     _figure([t["running"] for t in mine])])
    rows.append(["sum, all tasks", str(len(tasks)),
                 *(secs(sum(t[p] or 0 for t in tasks), 0) for p in PHASES), secs(sum(t["running"] for t in tasks), 0)])
    table(rows, ["task", "n", *PHASES, "running"], right=range(1, len(PHASES) + 3))
    states: dict[str, int] = {}
    for task in tasks:
        states[task["state"]] = states.get(task["state"], 0) + 1
    say(f"  task instances by state: {states}; the first task waits for the forkserver's preload (queued)")


def _overhead(off: list[dict[str, Any]], on: list[dict[str, Any]]) -> None:
    """Submission (scheduled + queued), running (process start to work done) and done (finish), per task."""
    say("\n  per-task overhead, preload off vs on (medians over every pipeline-operator task instance):")

    def figures(tasks: list[dict[str, Any]]) -> list[float]:
        mine = [t for t in tasks if t["imports"] is not None]
        return [median([(t["scheduled"] or 0) + (t["queued"] or 0) for t in mine]),
                median([t["start"] + t["imports"] for t in mine]), median([t["work"] for t in mine]),
                median([t["finish"] for t in mine])]

    rows = {"preload off": figures(off), "preload on": figures(on)}
    table([[label, *(secs(v, 2) for v in values)] for label, values in rows.items()]
          + [["on / off", *(ratio(a, b) for a, b in zip(rows["preload on"], rows["preload off"], strict=True))]],
          ["", "submission", "start+imports", "work", "done"], right=(1, 2, 3, 4))
