"""Setup, not measured, side by side: the config copy and the lake (a worker), the Airflow DB with the
promotion pool (unless --no-airflow) and the MLflow server."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._harness.env import REPO
from bench._harness.figures import machine, say, secs
from bench._harness.workers import airflow_command, run_worker
from bench.train_register import server
from bench.train_register.constants import DAYS, WORKERS
from mlcycle import settings


def prepare(ctx, work: Path, shared: dict[str, str], airflow: bool) -> tuple[server.MlflowServer, dict[str, Any]]:
    """The lake, the Airflow DB and the MLflow server, ready; what setup wrote and how long it took."""
    say(f"  machine: {machine()} (other processes slow every path alike; "
        "the CPU figures below are less sensitive to them than wall time)")
    say(f"  setup (not measured): {DAYS} validated partitions written straight to the lake with "
        "storage.write_partition (ingest.ingest_bytes output, null labels dropped; the GX suite is skipped to "
        "keep setup short)" + (", airflow db migrate + pool" if airflow else "") + ", mlflow server")
    started = time.perf_counter()
    info: dict[str, Any] = {}
    errors: list[BaseException] = []
    threads = [_thread(lambda: _lake(ctx, shared, info), errors)]
    if airflow:
        threads.append(_thread(lambda: _airflow_db(ctx, work, info), errors))
    for thread in threads:
        thread.start()
    mlflow = None
    try:
        try:
            mlflow = server.start(work / "mlflow", ctx.logs / "train_register-mlflow-server.log", ctx.args.timeout)
            say(f"  setup: mlflow server {mlflow.url} (SQLite, --artifacts-destination, --workers 1, job execution "
                f"off) ready in {secs(mlflow.ready, 1)}, {mlflow.warm}")
        except Exception as exc:
            errors.append(exc)
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
    except BaseException:  # also Ctrl-C: never leave the server running
        if mlflow is not None:
            mlflow.stop()
        raise
    info["seconds"] = time.perf_counter() - started
    lake = info["lake"]
    say(f"  setup done in {secs(info['seconds'], 0)}: {lake['rows']:,} labelled rows of {lake['flights']:,} flights "
        f"({lake['unlabelled']:,} without a label dropped, {lake['quarantined']:,} quarantined by ingest), "
        f"{lake['days']} partitions")
    return mlflow, info


def _thread(function: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    """A thread running ``function``; what it raises goes to ``errors``, re-raised in the main thread."""
    def target() -> None:
        try:
            function()
        except BaseException as exc:
            errors.append(exc)
    return threading.Thread(target=target, daemon=True)


def _lake(ctx, shared: dict[str, str], info: dict[str, Any]) -> None:
    def on_event(event: dict[str, Any]) -> None:
        if event["kind"] == "config":
            say(f"  setup: pipeline config copy {event['path']}: " + "; ".join(event["changes"]))
        elif event["kind"] == "progress":
            say(f"  setup: lake {event['done']}/{event['days']} days, {event['rows']:,} rows, "
                f"{secs(event['seconds'], 0)}")

    source = Path(os.environ.get("MLCYCLE_PIPELINES_DIR", REPO / "include" / "pipelines"))
    args = ["setup", str(source), "production" if ctx.args.production_thresholds else "bench"]
    info["lake"] = run_worker(WORKERS, args, ctx.logs / "train_register-setup.log", env=shared,
                              on_event=on_event, timeout=ctx.args.timeout).last("result")


def _airflow_db(ctx, work: Path, info: dict[str, Any]) -> None:
    """A migrated metadata DB with the promotion pool; each airflow run works on a copy of it."""
    begun = time.perf_counter()
    env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work / 'airflow.db'}"}
    airflow_command(ctx, ["db", "migrate"], "train_register-airflow-db-migrate.log", env)
    airflow_command(ctx, ["pools", "set", settings.PROMOTION_POOL, "1", "x"], "train_register-airflow-pool.log", env)
    info["airflow_db"] = time.perf_counter() - begun
    say(f"  setup: airflow db migrate + pool {settings.PROMOTION_POOL} {secs(info['airflow_db'], 0)}")
