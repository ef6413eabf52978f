"""Drift check on 1M rows x 20 columns: monitoring.drift_report (sampled) vs numpy/scipy KS + PSI on all rows.

The data is synthetic and generated with numpy in each worker, with fixed seeds: a reference and a
current frame of 1,000,000 rows each, 16 numeric columns (16 distributions: normal, log-normal,
heavy-tailed, bounded, bimodal, two integer counts; one numeric column has 2 % missing values) and 4
categorical string columns of 8 to 12 levels. The current frame has controlled shifts: a numeric
column moves by ``delta`` reference standard deviations (so its normed Wasserstein distance is about
``delta``), a categorical one is mixed with a tilted distribution until its Jensen-Shannon distance to
the reference is the target. Generating the data is timed on its own and never counted.

Measured, each in a fresh process (so the peak memory, ``ru_maxrss``, is that measurement's alone):

* baseline: numpy/scipy on all 1M rows per side, per column: ``scipy.stats.ks_2samp`` for numeric
  columns (drifted when p < 0.05) and PSI from category counts for categorical ones (drifted when
  PSI >= 0.1), and the drifted share;
* product: ``mlcycle.core.monitoring.drift_report`` with the default ``sample_rows`` (200,000 per side)
  and with flights' 50,000. Timing shims in the worker split the call into its parts (plugin code is
  never changed);
* the product's own statistics (Wasserstein normed by the reference's std, Jensen-Shannon) computed
  with scipy on all rows, without Evidently: what a full-data check costs without Evidently;
* full (skip with ``--no-full``): ``drift_report`` with ``sample_rows`` >= the rows, i.e. Evidently on
  all rows: the reference verdict for the sampled one (2-2.5 min and ~2.1 GB peak here).

Agreement (skip with ``--no-agreement``): over several shift scenarios and data seeds, the sampled
``drift_report`` verdict (drifted columns, drift yes/no) against the full-data one. Evidently on all
rows costs ~100 s per 1M-row run, so these scenarios use fewer rows (``--agreement-rows``, default
100,000) with the same 1:5 sampling ratio (20,000 sampled rows). A smaller sample is noisier, so this
rate is a pessimistic estimate for 200,000-row samples; the 1M-row runs add one full-size comparison.

Times of the call exclude imports (shown on their own) and data generation. The targets (within 3x of
the baseline, at most 2 GB peak) are printed as information, never asserted.

The package: ``data`` (the synthetic columns and shift scenarios), ``constants`` (paths, sizes,
targets), ``workers`` (the worker processes), ``report`` (the figures); this module runs them.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench._harness.figures import each_fresh, header, machine, say, secs
from bench._harness.workers import BenchError, alternating, print_phases, run_worker
from bench.drift.constants import (
    AGREEMENT_ROWS,
    AGREEMENT_SEEDS,
    FLIGHTS_SAMPLE_ROWS,
    KINDS,
    ROWS,
    SAMPLE_ROWS,
    WORKERS,
)
from bench.drift.data import AGREEMENT_SCENARIOS, CATEGORICAL, COLUMNS, MAIN_SEED, NUMERIC, SCENARIOS
from bench.drift.report import report

ORDER = 40
DEFAULT_REPEAT = 1


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--no-full", action="store_true",
                       help="drift: skip Evidently on all 1M rows (the full-data reference run; saves 2-2.5 min)")
    group.add_argument("--no-agreement", action="store_true",
                       help="drift: skip the sampled-vs-full verdict agreement over scenarios (saves 2.5-4.5 min)")
    group.add_argument("--agreement-rows", type=int, default=AGREEMENT_ROWS, metavar="N",
                       help="drift: rows per side in the agreement scenarios, sampled to N/5 (default %(default)s)")
    group.add_argument("--agreement-seeds", type=int, default=AGREEMENT_SEEDS, metavar="N",
                       help=f"drift: data seeds per agreement scenario ({len(AGREEMENT_SCENARIOS)} scenarios; "
                            "default %(default)s)")
    group.add_argument("--drift-rows", type=int, default=ROWS, metavar="N",
                       help="drift: rows per side of the main measurement (default %(default)s)")


def run(ctx) -> None:
    args = ctx.args
    rows = args.drift_rows
    if rows < 2000 or args.agreement_rows < 5000 or args.agreement_seeds < 1:
        raise BenchError("--drift-rows must be >= 2000, --agreement-rows >= 5000, --agreement-seeds >= 1")
    header(f"drift: drift check on {rows:,} rows x {len(COLUMNS)} columns per side, drift_report vs numpy/scipy "
           f"({each_fresh(ctx.repeat)})")
    say(f"  data: {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical columns, numpy, seed {MAIN_SEED}; "
        f"shifts: {SCENARIOS['main']}")
    say(f"  machine: {machine()}; about 6 min on a quiet machine, 10 under load"
        + ("" if args.no_full else "; Evidently on all rows takes 2-2.5 min of it (--no-full)")
        + ("" if args.no_agreement else ", the agreement scenarios 2.5-4.5 min (--no-agreement)"))
    work = ctx.home / "drift"
    work.mkdir(parents=True, exist_ok=True)
    samples = {"product": SAMPLE_ROWS, "flights": FLIGHTS_SAMPLE_ROWS}

    def measure(kind: str, i: int) -> dict[str, Any]:
        argv = ["product", str(rows), str(samples[kind])] if kind in samples else [kind, str(rows)]
        return _one(ctx, kind, argv, f"run {i + 1}/{ctx.repeat}", i)

    runs = alternating(["baseline", "product", "flights", "stats"], ctx.repeat, measure)
    if not args.no_full:
        runs["full"] = [_one(ctx, "full", ["product", str(rows), str(rows)], "once", 0)]
    agreement = None if args.no_agreement else _agreement(ctx)
    (work / "results.json").write_text(json.dumps({"runs": runs, "agreement": agreement}, indent=1, default=str))
    report(runs, agreement, rows)


def _one(ctx, kind: str, argv: list[str], label: str, index: int) -> dict[str, Any]:
    say(f"  {label}: {KINDS[kind]:<52} ... ", end="")
    result = run_worker(WORKERS, argv, ctx.logs / f"drift-{kind}-{index + 1}.log", on_event=print_phases(),
                        timeout=ctx.args.timeout)
    out = result.last("result")
    say(f"peak {out['memory']['peak']:.0f} MB, process {secs(result.wall, 1)}")
    return {**out, "wall": result.wall}


def _agreement(ctx) -> dict[str, Any]:
    rows, seeds = ctx.args.agreement_rows, ctx.args.agreement_seeds
    sample_rows = rows // 5
    say(f"  agreement: {len(AGREEMENT_SCENARIOS)} scenarios x {seeds} seeds, {rows:,} rows per side, sampled "
        f"to {sample_rows:,} (1:5 like 1M:200k) vs Evidently on all {rows:,} rows, one process:")

    def on_event(event: dict[str, Any]) -> None:
        if event["kind"] == "phase":
            say(f"    {event['name']} ({secs(event['seconds'], 1)})")
        elif event["kind"] == "scenario":
            s, f = event["sampled"], event["full"]
            same = "same" if s["drifted"] == f["drifted"] else "DIFFERENT"
            say(f"    {event['scenario']:<12} seed {event['seed']}: drifted sampled {len(s['drifted']):>2} / full "
                f"{len(f['drifted']):>2} ({same} columns), share {s['share']:.2f} / {f['share']:.2f}; "
                f"{secs(s['seconds'], 1)} / {secs(f['seconds'], 1)}")

    result = run_worker(WORKERS, ["agreement", str(rows), str(sample_rows), str(seeds)],
                        ctx.logs / "drift-agreement.log", on_event=on_event, timeout=ctx.args.timeout)
    scenarios = [e for e in result.events if e["kind"] == "scenario"]
    say(f"  agreement process {secs(result.wall, 0)}")
    return {"rows": rows, "sample_rows": sample_rows, "seeds": seeds, "scenarios": scenarios}
