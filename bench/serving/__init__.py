"""Serving: p50/p99 latency and throughput, 1 and 100 rows, vs `mlflow models serve`; swap time; failed requests.

On one model version in the same run: ``python -m mlcycle.serving`` (FastAPI, one worker, with its request
log and metrics on) against the baseline ``mlflow models serve --env-manager local`` (one uvicorn worker)
on ``models:/bench_sv/<v1>``; both get the same ``dataframe_records`` bodies, from the sixth validated day.

* **latency**: sequential requests on one kept-alive connection, after 20 to warm up: p50 and p99;
* **throughput**: ``--clients`` connections sending back to back for ``--seconds``: answered requests per second;
* **swap**: 2 clients send 1-row requests while the pipeline promotes v2 (``register_model``, which notifies
  the app), then rolls back; the time from the alias move (when the task notifies the app) to the first
  answer after which every answer comes from the new version, the task's own time, and the failed requests
  over the whole loop.

Figures, not tests: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from bench._harness.figures import header, machine, ratio, say, say_load_at_end, table
from bench._harness.workers import run_worker
from bench.serving import load

ORDER = 60
DEFAULT_REPEAT = 1


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--requests", type=int, default=300, help="sequential requests per latency figure")
    group.add_argument("--seconds", type=float, default=10, help="seconds per throughput figure")
    group.add_argument("--clients", type=int, default=4, help="concurrent connections for throughput")


def _pipelines(ctx):
    import yaml

    from mlcycle import settings

    raw = yaml.safe_load((settings.INCLUDE_DIR / "pipelines" / "flights.yaml").read_text())
    raw["name"] = "bench_sv"
    raw["training"].update(window_days=4, holdout_days=1, estimator="logistic_regression", search={"C": [1.0]})
    raw["evaluation"] = {"thresholds": {"roc_auc": 0.55}, "max_regression": 0.02}
    folder = ctx.home / "pipelines"
    folder.mkdir(exist_ok=True)
    (folder / "bench_sv.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder


def _speed(ctx, servers, payloads) -> None:
    rows = []
    for size, payload in payloads.items():
        figures = {s.name: {**load.latency(s, payload, ctx.args.requests),
                            **load.throughput(s, payload, ctx.args.clients, ctx.args.seconds)} for s in servers}
        ours, base = figures[servers[0].name], figures[servers[1].name]
        for name, f in figures.items():
            rows.append([f"{size} row{'s' if size > 1 else ''}", name, f"{f['p50_ms']:.1f}", f"{f['p99_ms']:.1f}",
                         f"{f['rps']:.0f}", f"{f['rps'] * size:.0f}", str(f["errors"])])
        rows.append(["", "ratio ours/mlflow", ratio(ours["p50_ms"], base["p50_ms"]),
                     ratio(ours["p99_ms"], base["p99_ms"]), ratio(ours["rps"], base["rps"]), "", ""])
    table(rows, ["body", "server", "p50 ms", "p99 ms", "req/s", "rows/s", "errors"], right=range(2, 7))


def _swap(ctx, server, payload, env, versions) -> None:
    rows = []
    with load.Loop(server, payload) as loop:
        time.sleep(2)
        for label, args, target in (("promote v2", ["promote", str(versions["v2"])], versions["v2"]),
                                    ("rollback to v1", ["rollback"], versions["v1"])):
            moved = run_worker("bench.serving.workers", args, ctx.logs / f"{args[0]}.log", env=env).last("result")
            deadline = time.time() + 120
            while (settled := loop.settled(target, moved["started"])) is None and time.time() < deadline:
                time.sleep(0.2)
            rows.append([label, f"{moved['returned'] - moved['started']:.2f}",
                         f"{settled - moved['moved']:.2f}" if settled else "not within 120 s"])
            time.sleep(2)
    failed = sum(1 for _, status, _ in loop.seen if status != 200)
    table(rows, ["move", "task s (registry, then notify)", "swap s (alias moved -> only new answers)"],
          right=(1, 2))
    say(f"  requests during the swaps: {len(loop.seen)}, failed: {failed}")


def run(ctx) -> None:
    from bench.train_register import server as mlflow_server

    header("serving: mlcycle.serving (FastAPI) vs mlflow models serve --env-manager local, same model version")
    say(f"  {machine()}")
    tracking = mlflow_server.start(ctx.home / "mlflow", ctx.logs / "mlflow.log", ctx.args.timeout)
    env = {"MLFLOW_TRACKING_URI": tracking.url, "MLCYCLE_PIPELINES_DIR": str(_pipelines(ctx)),
           "MLCYCLE_SERVING_API_KEY": load.KEY}
    servers = []
    try:
        say("  preparing five validated days and two versions ...")
        versions = run_worker("bench.serving.workers", ["prepare", str(ctx.home)], ctx.logs / "prepare.log",
                              env=env, timeout=ctx.args.timeout).last("result")
        records = json.loads((ctx.home / "records.json").read_text())
        os.environ.update(env)
        servers = [load.ours(ctx.home / "pipelines", ctx.logs / "serving.log", ctx.args.timeout),
                   load.mlflow_serve(f"models:/bench_sv/{versions['v1']}", ctx.logs / "mlflow-serve.log",
                                     ctx.args.timeout)]
        payloads = {1: load.body(records[:1]), 100: load.body(records[:100])}
        _speed(ctx, servers, payloads)
        say()
        _swap(ctx, servers[0], payloads[1], {**env, "MLCYCLE_SERVING_URL": f"http://127.0.0.1:{servers[0].port}"},
              versions)
    finally:
        for server in servers:
            server.stop()
        tracking.stop()
    say_load_at_end()
