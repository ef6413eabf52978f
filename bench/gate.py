"""Promotion gate time on a 50,000-row holdout: 1,000 paired bootstrap resamples against no resampling.

One worker process builds a classification holdout (50,000 rows by default, about one positive in five,
two models of different skill scored on the same rows), warms up once (imports Evidently and runs one
gate, not counted), then times ``gating.evaluate`` with the flights config's gate (absolute Evidently
tests with the log-loss ceiling, the paired comparison on roc_auc) alternately with ``evaluation.resamples`` set to
1,000 and to 0 (the point difference decides: the baseline, same run). It also times the comparison
alone, and a naive Python loop of scikit-learn ``roc_auc_score`` on resampled rows (a few resamples,
scaled to 1,000) for scale. The target (the gate with resampling at most 2x the gate without) is
printed as information, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench._harness.figures import header, median, ratio, say, secs, table
from bench._harness.workers import emit, run_worker, worker_main

ORDER = 60
DEFAULT_REPEAT = 3
TARGET_RATIO = 2.0
NAIVE_SAMPLES = 20


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--gate-rows", type=int, default=50_000, metavar="N",
                       help="gate: holdout rows (default %(default)s)")
    group.add_argument("--gate-resamples", type=int, default=1000, metavar="N",
                       help="gate: bootstrap resamples (default %(default)s)")


def run(ctx) -> None:
    rows, resamples = ctx.args.gate_rows, ctx.args.gate_resamples
    header(f"gate: gating.evaluate on a {rows:,}-row holdout, {resamples:,} resamples vs none "
           f"({ctx.repeat} repetitions each, alternating)")
    say("  starting a worker (imports Evidently and warms up with one gate, not counted) ...")
    result = run_worker("bench.gate", ["worker", str(rows), str(resamples), str(ctx.repeat)], ctx.logs / "gate.log",
                        timeout=ctx.args.timeout)
    reps = [e for e in result.events if e["kind"] == "rep"]
    if not reps:
        result.last("rep")  # raises BenchError naming the log
    with_, without = ([e["seconds"] for e in reps if e["resamples"] == n] for n in (resamples, 0))
    alone = [e["compare"] for e in reps if e["resamples"] == resamples]
    naive = result.last("naive")
    base = median(without)
    say()
    table([["gate, no resampling (baseline)", secs(base), secs(min(without)), "1.00x", ""],
           [f"gate, {resamples:,} resamples", secs(median(with_)), secs(min(with_)), ratio(median(with_), base),
            "within" if median(with_) <= TARGET_RATIO * base else "above"],
           [f"  of which the paired comparison ({resamples:,} resamples, roc_auc)", secs(median(alone)),
            secs(min(alone)), ratio(median(alone), base), ""],
           [f"naive loop, sklearn roc_auc x {resamples:,} (scaled from {NAIVE_SAMPLES})",
            secs(naive["seconds"] * resamples / NAIVE_SAMPLES), "-",
            ratio(naive["seconds"] * resamples / NAIVE_SAMPLES, base), ""]],
          ["measurement", "median", "min", "vs baseline", f"target <= {TARGET_RATIO:g}x (info)"], right=(1, 2, 3))
    verdicts = {e["verdict"] for e in reps}
    resampled = [e for e in reps if e["resamples"] == resamples][-1]
    say(f"\n  verdicts: {', '.join(sorted(verdicts))}; intervals with {resamples:,} resamples {resampled['intervals']}")
    say(f"  worker wall time {secs(result.wall, 1)}; 'target' is informational, never asserted.")


# --- worker ---------------------------------------------------------------------------------------

def _holdout(rows: int):
    import numpy as np

    from mlcycle.core.gating import scored_frame

    rng = np.random.default_rng(0)
    signal = rng.normal(size=rows)
    late = (rng.random(rows) < 1 / (1 + np.exp(-(1.5 * signal - 1.8)))).astype(int)

    def model(noise: float):
        probability = 1 / (1 + np.exp(-(1.5 * signal - 1.8 + rng.normal(0, noise, rows))))
        return scored_frame(late, (probability >= 0.5).astype(int), probability)

    return model(0.8), model(1.2)


def _config(resamples: int):
    from mlcycle.core.config import load_pipeline
    from mlcycle.settings import INCLUDE_DIR

    config = load_pipeline("flights", INCLUDE_DIR / "pipelines")
    return config.model_copy(update={"evaluation": config.evaluation.model_copy(update={"resamples": resamples})})


def _naive(challenger, champion) -> float:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y, new, old = (challenger["target"].to_numpy(), challenger["probability"].to_numpy(),
                   champion["probability"].to_numpy())
    start = time.perf_counter()
    for _ in range(NAIVE_SAMPLES):
        index = rng.integers(0, len(y), len(y))
        roc_auc_score(y[index], new[index]) - roc_auc_score(y[index], old[index])
    return time.perf_counter() - start


def worker(argv: list[str]) -> None:
    from mlcycle.core import gating

    rows, resamples, repeat = (int(a) for a in argv)
    challenger, champion = _holdout(rows)
    configs = {n: _config(n) for n in (resamples, 0)}
    with tempfile.TemporaryDirectory() as folder:
        gating.evaluate(configs[0], challenger, champion, Path(folder) / "warm")  # imports, first report
        emit("naive", seconds=_naive(challenger, champion))
        for rep in range(repeat):
            for n, config in configs.items():
                start = time.perf_counter()
                result = gating.evaluate(config, challenger, champion, Path(folder) / f"{n}-{rep}")
                seconds = time.perf_counter() - start
                begun = time.perf_counter()
                gating.compare(config, challenger, champion)
                emit("rep", rep=rep, resamples=n, seconds=seconds, compare=time.perf_counter() - begun,
                     verdict=result.verdict, intervals=result.intervals)


if __name__ == "__main__":
    worker_main("bench.gate", {"worker": lambda: worker(sys.argv[2:])}, sys.argv[1:])
