"""Prediction latency of 1 and 100 rows: onnxruntime against the scikit-learn model, same run, same rows.

One worker process trains each estimator the flights pipeline allows on five real days (2013-01-01..05,
the pipeline's own preprocessing and fixed defaults), exports it with ``mlcycle.core.onnx_export``
(the same conversion a champion gets at promotion) and checks parity on the next day. Then, for each
model and batch size, it alternates the two paths ``--calls`` times:

* scikit-learn: ``predict_proba`` on the model-input frame (``training.prepare``), the baseline;
* onnxruntime: building the inputs from that same frame (``onnx_export.feed``) and ``session.run``.

Figures are the median and the 95th percentile per call; the ratio is onnxruntime / scikit-learn. Both
run single-threaded (``intra_op_num_threads=1``; scikit-learn under ``threadpool_limits(1)``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from bench._harness.figures import header, machine, ratio, say, say_load_at_end, table
from bench._harness.workers import emit, print_phases, run_worker, worker_main

ORDER = 60
DEFAULT_REPEAT = 1
DAYS = [f"2013-01-{d:02d}" for d in range(1, 7)]  # five to train on, the last for parity and latency
BATCHES = (1, 100)


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--calls", type=int, default=300, metavar="N",
                       help="onnx_latency: timed calls per model, batch size and path (default %(default)s)")


def run(ctx) -> None:
    calls = ctx.args.calls
    header(f"onnx_latency: predict 1 and 100 rows, onnxruntime vs scikit-learn ({calls} calls each, alternating)")
    say(f"  {machine()}")
    say("  training the flights estimators and exporting them (not timed) ...")
    result = run_worker("bench.onnx_latency", ["worker", str(calls)], ctx.logs / "onnx_latency.log",
                        on_event=print_phases(), timeout=ctx.args.timeout).outcome("onnx_latency")
    say()
    rows = []
    for item in result["models"]:
        for batch in BATCHES:
            sk, ort = item["sklearn"][str(batch)], item["onnx"][str(batch)]
            rows.append([item["estimator"], str(batch), _ms(sk["median"]), _ms(sk["p95"]), _ms(ort["median"]),
                         _ms(ort["p95"]), ratio(ort["median"], sk["median"])])
    table(rows, ["estimator", "rows", "sklearn median", "sklearn p95", "onnxruntime median", "onnxruntime p95",
                 "onnx / sklearn"], right=range(1, 7))
    for item in result["models"]:
        say(f"  {item['estimator']}: ONNX {item['onnx_kb']:.0f} kB, parity on {item['parity_rows']} rows: "
            f"max abs difference {item['gap']:.2e} (tolerance {item['tolerance']:g})")
    say("  per call; onnxruntime's figure includes building its inputs from the frame. Nothing is asserted.")
    say_load_at_end()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


# --- worker ---------------------------------------------------------------------------------------

def _timed(call, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median": statistics.median(ordered), "p95": ordered[int(0.95 * (len(ordered) - 1))]}


def _measure(model, sess, frame, columns: dict[str, str], calls: int) -> dict[str, Any]:
    from mlcycle.core import onnx_export

    figures: dict[str, Any] = {"sklearn": {}, "onnx": {}}
    for batch in BATCHES:
        rows = frame.head(batch)
        paths = {"sklearn": lambda rows=rows: model.predict_proba(rows),
                 "onnx": lambda rows=rows: sess.run(None, onnx_export.feed(rows, columns))}
        for path in paths.values():  # warm both once
            path()
        samples: dict[str, list[float]] = {"sklearn": [], "onnx": []}
        for i in range(10):  # alternate in ten rounds, reversing the order every other round
            for name in (("sklearn", "onnx") if i % 2 == 0 else ("onnx", "sklearn")):
                samples[name] += _timed(paths[name], max(1, calls // 10))
        for name, times in samples.items():
            figures[name][str(batch)] = _summary(times)
    return figures


def worker(argv: list[str]) -> None:
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from mlcycle.core import onnx_export, training
    from mlcycle.core.config import load_pipeline
    from mlcycle.sources import nycflights

    threadpool_limits(1)  # both paths on one thread (OpenMP in the boosters, BLAS), like the ORT session
    calls = int(argv[0])
    config = load_pipeline("flights")
    frame = pd.concat([nycflights.day(d) for d in DAYS], ignore_index=True)
    frame = frame[frame[config.label].notna()]
    day = frame[config.date_column].astype(str).str[:10]
    train, test = frame[day < DAYS[-1]], frame[day == DAYS[-1]]
    x_test = training.prepare(test, config)
    models = []
    for estimator in config.training.estimators:
        began = time.perf_counter()
        model = training.make_model(config, estimator, config.training.params)
        model.fit(training.prepare(train, config), training.target(train, config))
        onnx_bytes = onnx_export.convert(model, config.columns)
        sess = onnx_export.session(onnx_bytes, threads=1)
        gap = onnx_export.parity(model, onnx_bytes, x_test, config.columns)
        figures = _measure(model, sess, x_test, config.columns, calls)
        emit("phase", name=f"{estimator} trained, exported and timed in", seconds=time.perf_counter() - began)
        models.append({"estimator": estimator, "onnx_kb": len(onnx_bytes) / 1024, "gap": gap,
                       "tolerance": onnx_export.tolerance(model)[0], "parity_rows": len(x_test),
                       **figures})
    emit("result", models=models)


if __name__ == "__main__":
    worker_main("bench.onnx_latency", {"worker": lambda: worker(sys.argv[2:])}, sys.argv[1:])
