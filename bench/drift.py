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
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from typing import Any

from bench._proc import BenchError, emit, header, median, ratio, run_worker, say, secs, table, worker_main

ORDER = 40
DEFAULT_REPEAT = 1
ROWS = 1_000_000
SAMPLE_ROWS = 200_000          # MonitoringConfig.sample_rows default
FLIGHTS_SAMPLE_ROWS = 50_000   # include/pipelines/flights.yaml
AGREEMENT_ROWS = 100_000
AGREEMENT_SEEDS = 2
MAIN_SEED = 0
TARGET_RATIO = 3.0             # the product within 3x of the baseline (informational)
TARGET_PEAK_MB = 2048          # at most 2 GB peak RSS (informational)
KS_ALPHA, PSI_LIMIT = 0.05, 0.1
DEFAULT_SHARE, FLIGHTS_SHARE = 0.5, 0.1   # MonitoringConfig.drift_share default; flights.yaml's

NUMERIC = ["normal", "normal_50_10_missing", "lognormal", "exponential", "gamma", "beta", "uniform", "student_t5",
           "chisquare3", "laplace", "logistic", "weibull", "poisson_int", "binomial_int", "bimodal", "lognormal_heavy"]
CATEGORICAL = ["cat_uniform8", "cat_zipf12", "cat_geometric10", "cat_dominant9"]
COLUMNS = NUMERIC + CATEGORICAL

# The 1M-row scenario: numeric shifts in reference std, categorical shifts as Jensen-Shannon distance.
MAIN_SHIFTS = {"normal": 0.03, "normal_50_10_missing": 0.06, "lognormal": 0.09, "exponential": 0.11, "gamma": 0.15,
               "beta": 0.2, "uniform": 0.3, "student_t5": 0.5, "chisquare3": 1.0,
               "cat_uniform8": 0.05, "cat_zipf12": 0.2}
SCENARIOS = {
    "main": "11 of 20 columns shifted: numeric by 0.03-1.0 sd (two at 0.09 and 0.11, next to the 0.1 threshold), "
            "2 categorical to JS 0.05 and 0.2",
    "none": "no shift",
    "small": "12 numeric columns by 0.04 sd, 2 categorical to JS 0.04 (all below the 0.1 thresholds)",
    "mixed": "every column by a random amount per seed: numeric 0-0.25 sd, categorical JS 0-0.2",
    "large": "12 numeric columns by 0.3 sd, 2 categorical to JS 0.25",
    "categorical": "the 4 categorical columns to JS 0.15, numeric unchanged",
}
AGREEMENT_SCENARIOS = ["none", "small", "mixed", "large", "categorical"]
KINDS = {
    "baseline": "baseline: scipy KS + PSI, all rows",
    "product": f"product: drift_report, sample {SAMPLE_ROWS:,}",
    "flights": f"product: drift_report, sample {FLIGHTS_SAMPLE_ROWS:,} (flights)",
    "stats": "scipy Wasserstein + JS (product's stats), all rows",
    "full": "Evidently full data: drift_report, no sampling",
}


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


# --- benchmark process ----------------------------------------------------------------------------

def run(ctx) -> None:
    args = ctx.args
    rows = args.drift_rows
    if rows < 2000 or args.agreement_rows < 5000 or args.agreement_seeds < 1:
        raise BenchError("--drift-rows must be >= 2000, --agreement-rows >= 5000, --agreement-seeds >= 1")
    header(f"drift: drift check on {rows:,} rows x {len(COLUMNS)} columns per side, drift_report vs numpy/scipy "
           f"({ctx.repeat} run{'s' if ctx.repeat > 1 else ''} each, fresh processes)")
    say(f"  data: {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical columns, numpy, seed {MAIN_SEED}; "
        f"shifts: {SCENARIOS['main']}")
    say(f"  machine: {os.cpu_count()} cores, load average {_load()}; about 6 min on a quiet machine, 10 under load"
        + ("" if args.no_full else "; Evidently on all rows takes 2-2.5 min of it (--no-full)")
        + ("" if args.no_agreement else ", the agreement scenarios 2.5-4.5 min (--no-agreement)"))
    work = ctx.home / "drift"
    work.mkdir(parents=True, exist_ok=True)
    samples = {"product": SAMPLE_ROWS, "flights": FLIGHTS_SAMPLE_ROWS}
    kinds = ["baseline", "product", "flights", "stats"]
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for i in range(ctx.repeat):
        for kind in (kinds if i % 2 == 0 else kinds[::-1]):  # alternate: no path always first
            argv = ["product", str(rows), str(samples[kind])] if kind in samples else [kind, str(rows)]
            runs[kind].append(_one(ctx, kind, argv, f"run {i + 1}/{ctx.repeat}", i))
    if not args.no_full:
        runs["full"] = [_one(ctx, "full", ["product", str(rows), str(rows)], "once", 0)]
    agreement = None if args.no_agreement else _agreement(ctx)
    (work / "results.json").write_text(json.dumps({"runs": runs, "agreement": agreement}, indent=1, default=str))
    _report(runs, agreement, rows)


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _one(ctx, kind: str, argv: list[str], label: str, index: int) -> dict[str, Any]:
    say(f"  {label}: {KINDS[kind]:<52} ... ", end="")

    def on_event(event: dict[str, Any]) -> None:
        if event["kind"] == "phase":
            say(f"{event['name']} {secs(event['seconds'], 1)}, ", end="")

    result = run_worker("bench.drift", argv, ctx.logs / f"drift-{kind}-{index + 1}.log", on_event=on_event,
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

    result = run_worker("bench.drift", ["agreement", str(rows), str(sample_rows), str(seeds)],
                        ctx.logs / "drift-agreement.log", on_event=on_event, timeout=ctx.args.timeout)
    scenarios = [e for e in result.events if e["kind"] == "scenario"]
    say(f"  agreement process {secs(result.wall, 0)}")
    return {"rows": rows, "sample_rows": sample_rows, "seeds": seeds, "scenarios": scenarios}


def _med(rows: list[dict[str, Any]], *keys: str) -> float:
    def get(row: Any) -> float:
        for key in keys:
            row = row.get(key, {}) if isinstance(row, dict) else {}
        return float(row) if isinstance(row, int | float) else 0.0
    return median([get(r) for r in rows])


def _compare(sampled: dict[str, Any], full: dict[str, Any]) -> dict[str, Any]:
    """How a sampled verdict compares with the full-data one: columns, and drift at both share limits."""
    s, f = set(sampled["drifted"]), set(full["drifted"])
    return {"same_columns": s == f, "column_agree": sum((c in s) == (c in f) for c in COLUMNS),
            "flips": sorted(s ^ f),
            "verdict": {share: (sampled["share"] >= share) == (full["share"] >= share)
                        for share in (DEFAULT_SHARE, FLIGHTS_SHARE)},
            "max_score_diff": max((abs(sampled["scores"][c] - full["scores"][c]) for c in COLUMNS
                                   if c in sampled["scores"] and c in full["scores"]), default=float("nan"))}


def _report(runs: dict[str, list[dict[str, Any]]], agreement: dict[str, Any] | None, rows: int) -> None:
    say()
    if len(runs["baseline"]) > 1:
        say(f"  medians of {len(runs['baseline'])} runs (the full-data run once):")
    base_call, base_imports = _med(runs["baseline"], "call"), _med(runs["baseline"], "imports_total")
    table_rows = []
    for kind, rs in runs.items():
        call, imports = _med(rs, "call"), _med(rs, "imports_total")
        first = rs[0]
        v = first["verdict"]
        table_rows.append([
            KINDS[kind], f"{first['rows_read']:,}", secs(call, 1), secs(imports, 1),
            f"{_med(rs, 'memory', 'peak'):.0f}", f"{_med(rs, 'memory', 'peak') - _med(rs, 'memory', 'data'):.0f}",
            ratio(call, base_call), ratio(call + imports, base_call + base_imports),
            f"{len(v['drifted'])}/{len(COLUMNS)}", f"{v['share']:.2f}"])
    table(table_rows, ["path", "rows/side", "call", "imports", "peak MB", "above data", "call/base",
                       "+imports/base", "drifted", "share"], right=range(1, 10))
    g = runs["baseline"][0]
    say(f"  'call' = the drift computation alone; 'imports' = its libraries, paid once per process (an Airflow "
        f"task is one); data generation ({secs(g['generate'], 1)} for both frames) is not counted.")
    say(f"  'peak MB' = ru_maxrss of the worker (imports + both {rows:,}-row frames + the check); 'above data' = "
        f"peak - RSS right after generating the frames ({_med(runs['baseline'], 'memory', 'data'):.0f} MB in the "
        "baseline worker).")
    say(f"  baseline verdict: KS p < {KS_ALPHA} or PSI >= {PSI_LIMIT}; p-values on {rows:,} rows flag even tiny "
        "shifts. Product: Wasserstein (normed) / Jensen-Shannon >= 0.1, drift when share >= drift_share.")

    say()
    say(f"  targets (informational, not asserted): call within {TARGET_RATIO:.0f}x the baseline's "
        f"({secs(base_call, 1)}), peak at most 2 GB ({TARGET_PEAK_MB} MB):")
    for kind in ("product", "flights", "full"):
        if kind not in runs:
            continue
        rs = runs[kind]
        call, peak = _med(rs, "call"), _med(rs, "memory", "peak")
        with_imports = (call + _med(rs, "imports_total")) / (base_call + base_imports)
        say(f"    {KINDS[kind]}: {call / base_call:.2f}x -> {_within(call / base_call <= TARGET_RATIO)} "
            f"(with imports {with_imports:.2f}x -> {_within(with_imports <= TARGET_RATIO)}); peak {peak:.0f} MB -> "
            f"{_within(peak <= TARGET_PEAK_MB)}")
    if "full" in runs:
        full = _med(runs["full"], "call")
        faster = full / _med(runs["product"], "call")
        say(f"  Evidently on all rows: {secs(full, 0)} for {rows:,} x {len(COLUMNS)} (the issue: ~34 s for 1M x 10 "
            f"with the default preset); sampling to {SAMPLE_ROWS:,} makes the call {faster:.1f}x faster.")
    stats = _med(runs["stats"], "call")
    same = "(no full-data run to compare with)"
    if "full" in runs:
        c = _compare(runs["stats"][0]["verdict"], runs["full"][0]["verdict"])
        same = (f"the same drifted columns as Evidently's full-data run: {_yes(c['same_columns'])} (largest score "
                f"difference {c['max_score_diff']:.1e})")
    say(f"  the product's statistics without Evidently, on all rows (scipy): {secs(stats, 1)} = "
        f"{ratio(stats, base_call)} the baseline; {same}")

    say()
    say("  product call, part by part (timing shims; a part is timed once even when called inside another):")
    labels = []
    for kind in ("product", "flights", "full"):
        for r in runs.get(kind, []):
            labels += [p for p in r["parts"] if p not in labels]
    part_rows = []
    for label in labels:
        part_rows.append([label, *(f"{secs(_med(runs[k], 'parts', label, 'seconds'), 2)} "
                                   f"({int(_med(runs[k], 'parts', label, 'calls'))})" if k in runs else "-"
                                   for k in ("product", "flights", "full"))])
    part_rows.append(["other (preset, snapshot.dict(), tests read back)",
                      *(secs(_med(runs[k], "call") - sum(_med(runs[k], "parts", p, "seconds") for p in labels), 2)
                        if k in runs else "-" for k in ("product", "flights", "full"))])
    part_rows.append(["call", *(secs(_med(runs[k], "call"), 2) if k in runs else "-"
                                for k in ("product", "flights", "full"))])
    table(part_rows, ["seconds (calls)", f"sample {SAMPLE_ROWS:,}", f"sample {FLIGHTS_SAMPLE_ROWS:,}", "full"],
          right=(1, 2, 3))
    empty = runs["product"][0]["parts"].get(EMPTY_COLUMNS)
    if empty and empty["calls"] > 1:
        calls, scans = empty["calls"], _med(runs["product"], "parts", EMPTY_COLUMNS, "seconds")
        say(f"  note: drift_report calls empty_columns() once per column ({calls} calls), each scanning all "
            f"{len(COLUMNS)} columns of both full {rows:,}-row frames for missing values before sampling: "
            f"{secs(scans, 1)} of the call; one scan would do.")
        for kind in ("product", "flights"):
            scans = _med(runs[kind], "parts", EMPTY_COLUMNS, "seconds")
            estimate = _med(runs[kind], "call") - scans * (1 - 1 / calls)
            say(f"    estimate with one scan, {KINDS[kind]}: {secs(estimate, 1)} = "
                f"{ratio(estimate, base_call)} the baseline (an estimate from the parts, not a measurement)")

    say()
    say("  agreement of the sampled verdict with Evidently on all rows (drift at drift_share "
        f"{DEFAULT_SHARE}, the default, and {FLIGHTS_SHARE}, flights.yaml's):")
    if "full" in runs:
        full = runs["full"][0]["verdict"]
        for kind in ("product", "flights"):
            c = _compare(runs[kind][0]["verdict"], full)
            say(f"    {rows:,} rows, sample {runs[kind][0]['sample_rows']:,}: drifted columns "
                f"{'identical' if c['same_columns'] else 'differ: ' + ', '.join(c['flips'])} "
                f"({c['column_agree']}/{len(COLUMNS)} column verdicts agree), drift verdict agrees: "
                f"{_yes(c['verdict'][DEFAULT_SHARE])} / {_yes(c['verdict'][FLIGHTS_SHARE])}; largest score "
                f"difference {c['max_score_diff']:.4f}")
    else:
        say(f"    (no full-data {rows:,}-row run: --no-full)")
    if agreement:
        _report_agreement(agreement)
    say(f"  load average at the end: {_load()} on {os.cpu_count()} cores")


def _report_agreement(agreement: dict[str, Any]) -> None:
    pairs = agreement["scenarios"]
    if not pairs:
        say("    (no agreement scenarios ran)")
        return
    compared = [(p, _compare(p["sampled"], p["full"])) for p in pairs]
    rows_out = []
    for scenario in AGREEMENT_SCENARIOS:
        mine = [(p, c) for p, c in compared if p["scenario"] == scenario]
        if not mine:
            continue
        rows_out.append([scenario, str(len(mine)),
                         f"{sum(c['same_columns'] for _, c in mine)}/{len(mine)}",
                         f"{sum(c['column_agree'] for _, c in mine)}/{len(mine) * len(COLUMNS)}",
                         f"{sum(c['verdict'][DEFAULT_SHARE] for _, c in mine)}/{len(mine)}",
                         f"{sum(c['verdict'][FLIGHTS_SHARE] for _, c in mine)}/{len(mine)}",
                         f"{max(c['max_score_diff'] for _, c in mine):.4f}"])
    n = len(compared)
    rows_out.append(["all", str(n), f"{sum(c['same_columns'] for _, c in compared)}/{n}",
                     f"{sum(c['column_agree'] for _, c in compared)}/{n * len(COLUMNS)}",
                     f"{sum(c['verdict'][DEFAULT_SHARE] for _, c in compared)}/{n}",
                     f"{sum(c['verdict'][FLIGHTS_SHARE] for _, c in compared)}/{n}",
                     f"{max(c['max_score_diff'] for _, c in compared):.4f}"])
    say(f"    {agreement['rows']:,} rows per side sampled to {agreement['sample_rows']:,} "
        f"({agreement['seeds']} seed{'s' if agreement['seeds'] > 1 else ''} per scenario):")
    table(rows_out, ["scenario", "runs", "same columns", "column verdicts", f"drift @{DEFAULT_SHARE}",
                     f"drift @{FLIGHTS_SHARE}", "max |score diff|"], right=range(1, 7))
    for p, c in compared:
        if c["flips"]:
            say(f"    {p['scenario']} seed {p['seed']}: " + ", ".join(
                f"{col} sampled {p['sampled']['scores'].get(col, float('nan')):.4f} vs full "
                f"{p['full']['scores'].get(col, float('nan')):.4f}" for col in c["flips"]) + " (threshold 0.1)")
    for scenario in AGREEMENT_SCENARIOS:
        say(f"    {scenario}: {SCENARIOS[scenario]}")
    say(f"    a {agreement['sample_rows']:,}-row sample is noisier than a {SAMPLE_ROWS:,}-row one, so at 1M rows the "
        "sampled verdict agrees at least as often; only columns whose distance is near 0.1 can flip.")


def _within(ok: bool) -> str:
    return "within target" if ok else "OVER target"


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


# --- workers --------------------------------------------------------------------------------------

EMPTY_COLUMNS = "empty_columns() on the full frames"
PARTS = [("monitoring", "empty_columns", EMPTY_COLUMNS),
         ("monitoring", "sample", "sample() each side"),
         ("monitoring", "_datasets", "_datasets(): astype + Evidently Dataset"),
         ("Report", "run", "Evidently Report.run (stats, tests, widgets)")]


def _memory() -> dict[str, float]:
    """Current RSS and the peak so far (ru_maxrss), in MB (MiB)."""
    with open("/proc/self/statm") as statm:
        resident = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return {"rss": resident, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _shifts(scenario: str, seed: int) -> dict[str, float]:
    import numpy as np

    if scenario == "main":
        return dict(MAIN_SHIFTS)
    if scenario == "none":
        return {}
    if scenario == "small":
        return {**dict.fromkeys(NUMERIC[:12], 0.04), **dict.fromkeys(CATEGORICAL[:2], 0.04)}
    if scenario == "large":
        return {**dict.fromkeys(NUMERIC[:12], 0.3), **dict.fromkeys(CATEGORICAL[:2], 0.25)}
    if scenario == "categorical":
        return dict.fromkeys(CATEGORICAL, 0.15)
    if scenario == "mixed":
        rng = np.random.default_rng([seed, 99])
        return {**{c: float(rng.uniform(0, 0.25)) for c in NUMERIC}, **{c: float(rng.uniform(0, 0.2))
                                                                          for c in CATEGORICAL}}
    raise ValueError(f"unknown scenario {scenario}")


def _numeric(rng, name: str, n: int, delta: float, std: float):
    """One numeric column; ``delta`` moves it by that many reference standard deviations (``std``)."""
    import numpy as np

    if name == "poisson_int":  # counts: shift the rate so the mean moves by delta sd (W1 = mean difference)
        return rng.poisson(4.0 + delta * 2.0, n)
    if name == "binomial_int":
        sd = (20 * 0.3 * 0.7) ** 0.5
        return rng.binomial(20, min(0.3 + delta * sd / 20, 1.0), n)
    draw = {
        "normal": lambda: rng.normal(0, 1, n),
        "normal_50_10_missing": lambda: rng.normal(50, 10, n),
        "lognormal": lambda: rng.lognormal(0, 0.5, n),
        "exponential": lambda: rng.exponential(1.0, n),
        "gamma": lambda: rng.gamma(2.0, 2.0, n),
        "beta": lambda: rng.beta(2.0, 5.0, n),
        "uniform": lambda: rng.uniform(0, 1, n),
        "student_t5": lambda: rng.standard_t(5, n),
        "chisquare3": lambda: rng.chisquare(3, n),
        "laplace": lambda: rng.laplace(0, 1, n),
        "logistic": lambda: rng.logistic(0, 1, n),
        "weibull": lambda: rng.weibull(1.5, n),
        "bimodal": lambda: np.where(rng.random(n) < 0.6, rng.normal(-2, 1, n), rng.normal(3, 1.5, n)),
        "lognormal_heavy": lambda: rng.lognormal(0, 1.0, n),
    }[name]
    values = draw()
    if delta:
        values += delta * std
    if name == "normal_50_10_missing":
        values[rng.random(n) < 0.02] = np.nan
    return values


def _categories(name: str):
    import numpy as np

    k = {"cat_uniform8": 8, "cat_zipf12": 12, "cat_geometric10": 10, "cat_dominant9": 9}[name]
    if name == "cat_uniform8":
        p = np.ones(k)
    elif name == "cat_zipf12":
        p = 1.0 / np.arange(1, k + 1)
    elif name == "cat_geometric10":
        p = 0.7 ** np.arange(k)
    else:
        p = np.r_[k - 1.0, np.ones(k - 1)]
    levels = np.array([f"{name.split('_')[1]}_{i:02d}" for i in range(k)], dtype=object)
    return levels, p / p.sum()


def _tilted(p, target: float):
    """A distribution at Jensen-Shannon distance ``target`` from ``p``: p mixed with a tilted copy of it."""
    import numpy as np
    from scipy.spatial.distance import jensenshannon

    tilt = p * np.geomspace(0.02, 50.0, len(p))
    tilt /= tilt.sum()
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if jensenshannon(p, (1 - mid) * p + mid * tilt) < target:
            lo = mid
        else:
            hi = mid
    return (1 - hi) * p + hi * tilt


def _generate(rows: int, seed: int, shifts: dict[str, float]):
    """Reference and current frames, column by column (no full-frame temporaries)."""
    import numpy as np
    import pandas as pd

    ref_rng, cur_rng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    reference, current = {}, {}
    for name in NUMERIC:
        reference[name] = _numeric(ref_rng, name, rows, 0.0, 0.0)
        std = float(np.nanstd(reference[name]))
        current[name] = _numeric(cur_rng, name, rows, shifts.get(name, 0.0), std)
    for name in CATEGORICAL:
        levels, p = _categories(name)
        q = _tilted(p, shifts[name]) if shifts.get(name) else p
        reference[name] = levels[ref_rng.choice(len(p), size=rows, p=p)]
        current[name] = levels[cur_rng.choice(len(q), size=rows, p=q)]
    return pd.DataFrame(reference, copy=False), pd.DataFrame(current, copy=False)


def _start(imports: list[tuple[str, list[str]]], rows: int, seed: int, scenario: str):
    """Imports (timed one group after the other), then the data (timed apart); memory right after."""
    import importlib

    timings = {}
    for label, modules in imports:
        mark = time.perf_counter()
        for module in modules:
            importlib.import_module(module)
        timings[label] = time.perf_counter() - mark
    emit("phase", name="imports", seconds=sum(timings.values()))
    mark = time.perf_counter()
    reference, current = _generate(rows, seed, _shifts(scenario, seed))
    generate = time.perf_counter() - mark
    emit("phase", name="data", seconds=generate)
    return reference, current, timings, generate, _memory()


BASE_IMPORTS = [("numpy + pandas", ["numpy", "pandas"]), ("scipy.stats", ["scipy.stats", "scipy.spatial.distance"])]
PRODUCT_IMPORTS = [("numpy + pandas", ["numpy", "pandas"]),
                   ("evidently", ["evidently", "evidently.presets", "evidently.metrics"]),
                   ("mlcycle.core.monitoring", ["mlcycle.core.config", "mlcycle.core.monitoring"])]


def _result(kind: str, rows: int, rows_read: int, call: float, verdict: dict[str, Any], timings, generate, data_mem,
            **extra: Any) -> None:
    end = _memory()
    emit("result", path=kind, rows=rows, rows_read=rows_read, call=call, verdict=verdict, imports=timings,
         imports_total=sum(timings.values()), generate=generate,
         memory={"data": data_mem["rss"], "peak_after_data": data_mem["peak"], "peak": end["peak"],
                 "rss_end": end["rss"]}, **extra)


def _verdict(drifted: list[str], scores: dict[str, float], share: float | None = None) -> dict[str, Any]:
    return {"drifted": sorted(drifted), "share": len(drifted) / len(COLUMNS) if share is None else share,
            "scores": {c: round(float(v), 6) for c, v in scores.items()}}


def _baseline(rows: int) -> None:
    """scipy two-sample KS per numeric column, PSI per categorical column, on all rows."""
    reference, current, timings, generate, data_mem = _start(BASE_IMPORTS, rows, MAIN_SEED, "main")
    import numpy as np
    from scipy.stats import ks_2samp

    start = time.perf_counter()
    drifted, scores, pvalues = [], {}, {}
    for name in NUMERIC:
        ref, cur = reference[name].to_numpy(), current[name].to_numpy()
        result = ks_2samp(ref[~np.isnan(ref)], cur[~np.isnan(cur)])
        scores[name], pvalues[name] = float(result.statistic), float(result.pvalue)
        if result.pvalue < KS_ALPHA:
            drifted.append(name)
    for name in CATEGORICAL:
        ref_counts, cur_counts = reference[name].value_counts(), current[name].value_counts()
        keys = ref_counts.index.union(cur_counts.index)
        ref_p = np.clip(ref_counts.reindex(keys, fill_value=0).to_numpy() / ref_counts.sum(), 1e-4, None)
        cur_p = np.clip(cur_counts.reindex(keys, fill_value=0).to_numpy() / cur_counts.sum(), 1e-4, None)
        scores[name] = float(np.sum((cur_p - ref_p) * np.log(cur_p / ref_p)))
        if scores[name] >= PSI_LIMIT:
            drifted.append(name)
    call = time.perf_counter() - start
    _result("baseline", rows, rows, call, _verdict(drifted, scores), timings, generate, data_mem, pvalues=pvalues)


def _stats(rows: int) -> None:
    """The product's statistics on all rows with scipy, no Evidently: Wasserstein / reference std, Jensen-Shannon."""
    reference, current, timings, generate, data_mem = _start(BASE_IMPORTS, rows, MAIN_SEED, "main")
    import numpy as np
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance

    start = time.perf_counter()
    drifted, scores = [], {}
    for name in NUMERIC:
        ref, cur = reference[name].to_numpy(dtype=float), current[name].to_numpy(dtype=float)
        ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
        scores[name] = wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
        if scores[name] >= 0.1:
            drifted.append(name)
    for name in CATEGORICAL:
        ref_counts, cur_counts = reference[name].value_counts(), current[name].value_counts()
        keys = ref_counts.index.union(cur_counts.index)
        scores[name] = float(jensenshannon(ref_counts.reindex(keys, fill_value=0).to_numpy() / ref_counts.sum(),
                                           cur_counts.reindex(keys, fill_value=0).to_numpy() / cur_counts.sum()))
        if scores[name] >= 0.1:
            drifted.append(name)
    call = time.perf_counter() - start
    _result("stats", rows, rows, call, _verdict(drifted, scores), timings, generate, data_mem)


class _Parts:
    """Timing shims around the parts of drift_report, in this worker process only."""

    def __init__(self) -> None:
        import importlib

        from evidently import Report

        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.depth = 0
        owners = {"monitoring": importlib.import_module("mlcycle.core.monitoring"), "Report": Report}
        for owner, function, label in PARTS:
            self.wrap(owners[owner], function, label)

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            if self.depth:
                return original(*args, **kwargs)
            self.depth += 1
            mark = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.depth -= 1
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - mark
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(owner, name, wrapper)

    def figures(self) -> dict[str, dict[str, float]]:
        return {label: {"seconds": self.seconds[label], "calls": self.calls[label]} for label in self.seconds}


def _drift(monitoring, reference, current, sample_rows: int) -> tuple[float, dict[str, Any]]:
    from mlcycle.core.config import MonitoringConfig

    limits = MonitoringConfig(sample_rows=sample_rows)
    start = time.perf_counter()
    _, share, failed, scores, _ = monitoring.drift_report(current, reference, COLUMNS, limits)
    call = time.perf_counter() - start
    return call, _verdict([c for c in failed if c in COLUMNS], scores, float(share))


def _product(rows: int, sample_rows: int) -> None:
    """drift_report on the 1M-row frames: sampled to ``sample_rows`` per side (or not, when >= rows)."""
    reference, current, timings, generate, data_mem = _start(PRODUCT_IMPORTS, rows, MAIN_SEED, "main")
    from mlcycle.core import monitoring

    parts = _Parts()
    call, verdict = _drift(monitoring, reference, current, sample_rows)
    emit("phase", name="drift_report", seconds=call)
    _result("full" if sample_rows >= rows else "product", rows, min(rows, sample_rows), call, verdict, timings,
            generate, data_mem, sample_rows=sample_rows, parts=parts.figures())


def _agreement_worker(rows: int, sample_rows: int, seeds: int) -> None:
    """Every scenario and seed: drift_report sampled, then on all rows, in this one process."""
    import gc
    import importlib

    for _, modules in PRODUCT_IMPORTS:
        for module in modules:
            importlib.import_module(module)
    from mlcycle.core import monitoring

    for scenario in AGREEMENT_SCENARIOS:
        for seed in range(1, seeds + 1):
            reference, current = _generate(rows, seed, _shifts(scenario, seed))
            sampled_call, sampled = _drift(monitoring, reference, current, sample_rows)
            full_call, full = _drift(monitoring, reference, current, rows)
            emit("scenario", scenario=scenario, seed=seed, shifts=_shifts(scenario, seed),
                 sampled={**sampled, "seconds": sampled_call}, full={**full, "seconds": full_call})
            del reference, current
            gc.collect()


def main(argv: list[str]) -> None:
    worker_main("drift", {"baseline": lambda: _baseline(int(argv[1])), "stats": lambda: _stats(int(argv[1])),
                          "product": lambda: _product(int(argv[1]), int(argv[2])),
                          "agreement": lambda: _agreement_worker(int(argv[1]), int(argv[2]), int(argv[3]))}, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
