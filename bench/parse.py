"""DAG parse time: each file in dags/ against a tiny Asset-scheduled DAG file, with Airflow warm.

One worker process imports ``airflow.sdk`` and builds a throwaway Asset (one-time costs the DAG
processor pays once, not per file), then forks once per file and repetition, like Airflow's DAG
processor does: every repetition parses the file in fresh module state (its own imports, e.g. of
``mlcycle``, are paid again) and the warm-up is never counted. A file is parsed the way Airflow's
Python importer does it (``SourceFileLoader`` under a unique module name, DAGs collected from the
module globals and the DAG context); ``--dagbag`` uses Airflow's ``DagBag`` on that single file
instead, which adds its bookkeeping and validation (and imports airflow-core in the warm-up).

The baseline is a file with one ``DAG(schedule=[Asset(...)])`` and one ``EmptyOperator``, written to
the temporary folder and timed the same way in the same run. The target of 0.1 s per file is
printed as information, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench._harness.env import REPO
from bench._harness.figures import header, median, ratio, say, secs, table
from bench._harness.workers import emit, run_worker, worker_main

ORDER = 10
DEFAULT_REPEAT = 5
TARGET_SECONDS = 0.1
HEAVY = ("pandas", "numpy", "pyarrow", "great_expectations", "dvc", "mlflow", "sklearn", "scipy", "boto3",
         "s3fs", "matplotlib")

BASELINE_DAG = '''\
"""Benchmark baseline: the smallest Asset-scheduled Airflow DAG file."""
import datetime as dt

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset

with DAG(dag_id="bench_baseline", schedule=[Asset(name="bench.baseline", uri="file:///tmp/bench/baseline")],
         start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), catchup=False):
    EmptyOperator(task_id="noop")
'''


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--dagbag", action="store_true",
                       help="parse: time Airflow's DagBag on each single file instead of the importer-style exec")


def run(ctx) -> None:
    mode = "dagbag" if ctx.args.dagbag else "exec"
    header(f"parse: DAG file parse time ({mode}, {ctx.repeat} repetitions, Airflow warm, fork per repetition)")
    baseline = ctx.home / "baseline_dags" / "baseline_asset_dag.py"
    baseline.parent.mkdir(parents=True, exist_ok=True)
    baseline.write_text(BASELINE_DAG)
    files = [baseline, *sorted((REPO / "dags").glob("*.py"))]
    labels = {str(baseline): "baseline (tiny Asset DAG)"}
    labels.update({str(f): str(f.relative_to(REPO)) for f in files[1:]})
    width = max(map(len, labels.values()))
    samples: dict[str, list[dict[str, Any]]] = {str(f): [] for f in files}

    def on_event(event: dict[str, Any]) -> None:
        if event["kind"] == "warm":
            extra = f", import DagBag {secs(event['import_dagbag'])}" if event.get("import_dagbag") else ""
            say(f"  warm-up (not counted): import airflow.sdk {secs(event['import_sdk'])}, "
                f"first Asset {secs(event['first_asset'])}{extra}")
            say("  per repetition, seconds:")
        elif event["kind"] == "rep":
            if event["rep"] == 0:
                say(f"    {labels[event['file']]:<{width}} ", end="")
            if event.get("error"):
                say(" ERROR", end="")
            else:
                say(f" {event['seconds']:.3f}", end="")
            samples[event["file"]].append(event)
            if event["rep"] == ctx.repeat - 1:
                say()

    say("  starting a worker (importing airflow.sdk takes a few seconds on this machine) ...")
    result = run_worker("bench.parse", ["worker", mode, str(ctx.repeat), *map(str, files)], ctx.logs / "parse.log",
                        on_event=on_event, timeout=ctx.args.timeout)
    say(f"  worker wall time {secs(result.wall, 1)}")
    _report(files, labels, samples)


def _report(files: list[Path], labels: dict[str, str], samples: dict[str, list[dict[str, Any]]]) -> None:
    """The table of medians against the baseline file (the first), then what each file imports."""
    errors = {f: e["error"] for f, reps in samples.items() for e in reps if e.get("error")}
    baseline = str(files[0])
    base = median([e["seconds"] for e in samples[baseline]]) if baseline not in errors else 0.0
    rows, notes = [], []
    for f in files:
        reps = samples[str(f)]
        if str(f) in errors:
            rows.append([labels[str(f)], "error", "-", "-", "-", "-"])
            notes.append(f"{labels[str(f)]}: {errors[str(f)]}")
            continue
        times = [e["seconds"] for e in reps]
        med = median(times)
        target = "within" if med <= TARGET_SECONDS else "above"
        rows.append([labels[str(f)], secs(med), secs(min(times)), str(reps[-1]["dags"]),
                     ratio(med, base), target])
        heavy = sorted({m for e in reps for m in e["heavy"]})
        notes.append(f"{labels[str(f)]}: {reps[-1]['new_modules']} modules imported by the file"
                     f"{', heavy: ' + ', '.join(heavy) if heavy else ', none of them heavy'}"
                     f" ({', '.join(HEAVY[:5])}, ...)")
    say()
    table(rows, ["file", "median", "min", "DAGs", "vs baseline", f"target <= {TARGET_SECONDS} s (info)"],
          right=(1, 2, 3, 4))
    say()
    for note in notes:
        say(f"  {note}")
    say("  'vs baseline' = median / median of the baseline file; 'target' is informational, never asserted.")


# --- worker ---------------------------------------------------------------------------------------

def _module_name(path: str) -> str:
    return "bench_parse_" + hashlib.sha1(path.encode()).hexdigest()[:12]


def _parse_exec(path: str) -> tuple[float, int, list[str]]:
    """Import ``path`` the way Airflow's Python importer does; return (seconds, DAG count, errors)."""
    import importlib.machinery
    import importlib.util

    from airflow.sdk import DAG
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    name = _module_name(path)
    start = time.perf_counter()
    DagContext.autoregistered_dags.clear()
    DagContext.current_autoregister_module_name = name
    loader = importlib.machinery.SourceFileLoader(name, path)
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    dags = {d.dag_id for d in vars(module).values() if isinstance(d, DAG)}
    dags |= {d.dag_id for d, _ in DagContext.autoregistered_dags}
    DagContext.current_autoregister_module_name = None
    return time.perf_counter() - start, len(dags), []


def _parse_dagbag(path: str) -> tuple[float, int, list[str]]:
    from airflow.dag_processing.dagbag import DagBag

    start = time.perf_counter()
    bag = DagBag(dag_folder=path, safe_mode=True, load_op_links=False)
    return time.perf_counter() - start, len(bag.dags), list(bag.import_errors.values())


def _once(path: str, mode: str) -> dict[str, Any]:
    before = set(sys.modules)
    try:
        seconds, dags, errors = (_parse_dagbag if mode == "dagbag" else _parse_exec)(path)
    except Exception as exc:  # the file failed to parse: report it, the other files still run
        return {"error": f"{type(exc).__name__}: {exc}"}
    if errors:
        return {"error": errors[0].strip().splitlines()[-1]}
    new = {m for m in set(sys.modules) - before if not m.startswith("bench_parse_")}
    heavy = sorted({m.split(".")[0] for m in new} & set(HEAVY))
    return {"seconds": seconds, "dags": dags, "new_modules": len(new), "heavy": heavy}


def _in_fork(path: str, mode: str) -> dict[str, Any]:
    """Run one parse in a forked child (fresh module state, warm Airflow); return its result."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            payload = json.dumps(_once(path, mode))
        except BaseException as exc:  # the child must always answer and exit
            payload = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        with os.fdopen(write_end, "w") as pipe:
            pipe.write(payload)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        return {"error": f"parse child died (wait status {status})"}
    return json.loads(data)


def worker(argv: list[str]) -> None:
    mode, repeat, files = argv[0], int(argv[1]), argv[2:]
    start = time.perf_counter()
    import airflow.sdk  # noqa: F401 - the warm-up being measured

    imported = time.perf_counter()
    from airflow.sdk import Asset

    # A non-file scheme makes Airflow load the providers' URI handlers: the one-time cost of a first Asset.
    Asset(name="bench.warmup", uri="s3://bench-warmup/asset")
    warm = {"import_sdk": imported - start, "first_asset": time.perf_counter() - imported}
    if mode == "dagbag":
        before = time.perf_counter()
        from airflow.dag_processing.dagbag import DagBag  # noqa: F401 - airflow-core, paid once

        warm["import_dagbag"] = time.perf_counter() - before
    emit("warm", **warm)
    for path in files:
        for rep in range(repeat):
            emit("rep", file=path, rep=rep, **_in_fork(path, mode))


if __name__ == "__main__":
    worker_main("bench.parse", {"worker": lambda: worker(sys.argv[2:])}, sys.argv[1:])
