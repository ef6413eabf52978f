"""The drift benchmark's worker processes: ``python -m bench.drift.workers <path> ...`` (internal).

Each worker times its imports (one group after the other), generates the data (timed apart, never
counted), runs one drift check and reports its time, verdict and peak memory (``ru_maxrss``).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from typing import Any

from bench._harness.timing import CallTimer, import_groups
from bench._harness.workers import emit, worker_main
from bench.drift.constants import KS_ALPHA, PARTS, PSI_LIMIT, WORKERS
from bench.drift.data import AGREEMENT_SCENARIOS, CATEGORICAL, COLUMNS, MAIN_SEED, NUMERIC, generate, shifts

BASE_IMPORTS = [("numpy + pandas", ["numpy", "pandas"]), ("scipy.stats", ["scipy.stats", "scipy.spatial.distance"])]
PRODUCT_IMPORTS = [("numpy + pandas", ["numpy", "pandas"]),
                   ("evidently", ["evidently", "evidently.presets", "evidently.metrics"]),
                   ("mlcycle.core.monitoring", ["mlcycle.core.config", "mlcycle.core.monitoring"])]


def _memory() -> dict[str, float]:
    """Current RSS and the peak so far (ru_maxrss), in MB (MiB)."""
    with open("/proc/self/statm") as statm:
        resident = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return {"rss": resident, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


class _Start:
    """Imports (timed one group after the other), then the 1M-row data (timed apart); memory right after."""

    def __init__(self, imports: list[tuple[str, list[str]]], rows: int) -> None:
        self.rows = rows
        self.timings = import_groups(imports)
        emit("phase", name="imports", seconds=sum(self.timings.values()))
        mark = time.perf_counter()
        self.reference, self.current = generate(rows, MAIN_SEED, shifts("main", MAIN_SEED))
        self.generate = time.perf_counter() - mark
        emit("phase", name="data", seconds=self.generate)
        self.data_memory = _memory()

    def result(self, kind: str, rows_read: int, call: float, verdict: dict[str, Any], **extra: Any) -> None:
        end = _memory()
        emit("result", path=kind, rows=self.rows, rows_read=rows_read, call=call, verdict=verdict,
             imports=self.timings, imports_total=sum(self.timings.values()), generate=self.generate,
             memory={"data": self.data_memory["rss"], "peak_after_data": self.data_memory["peak"],
                     "peak": end["peak"], "rss_end": end["rss"]}, **extra)


def _verdict(drifted: list[str], scores: dict[str, float], share: float | None = None) -> dict[str, Any]:
    return {"drifted": sorted(drifted), "share": len(drifted) / len(COLUMNS) if share is None else share,
            "scores": {c: round(float(v), 6) for c, v in scores.items()}}


def _counts(reference, current, name: str):
    """Category frequencies of one column on both sides, over the union of their categories."""
    ref_counts, cur_counts = reference[name].value_counts(), current[name].value_counts()
    keys = ref_counts.index.union(cur_counts.index)
    return (ref_counts.reindex(keys, fill_value=0).to_numpy() / ref_counts.sum(),
            cur_counts.reindex(keys, fill_value=0).to_numpy() / cur_counts.sum())


def _baseline(rows: int) -> None:
    """scipy two-sample KS per numeric column, PSI per categorical column, on all rows."""
    data = _Start(BASE_IMPORTS, rows)
    import numpy as np
    from scipy.stats import ks_2samp

    start = time.perf_counter()
    drifted, scores, pvalues = [], {}, {}
    for name in NUMERIC:
        ref, cur = data.reference[name].to_numpy(), data.current[name].to_numpy()
        result = ks_2samp(ref[~np.isnan(ref)], cur[~np.isnan(cur)])
        scores[name], pvalues[name] = float(result.statistic), float(result.pvalue)
        if result.pvalue < KS_ALPHA:
            drifted.append(name)
    for name in CATEGORICAL:
        ref_p, cur_p = (np.clip(p, 1e-4, None) for p in _counts(data.reference, data.current, name))
        scores[name] = float(np.sum((cur_p - ref_p) * np.log(cur_p / ref_p)))
        if scores[name] >= PSI_LIMIT:
            drifted.append(name)
    call = time.perf_counter() - start
    data.result("baseline", rows, call, _verdict(drifted, scores), pvalues=pvalues)


def _stats(rows: int) -> None:
    """The product's statistics on all rows with scipy, no Evidently: Wasserstein / reference std, Jensen-Shannon."""
    data = _Start(BASE_IMPORTS, rows)
    import numpy as np
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance

    start = time.perf_counter()
    drifted, scores = [], {}
    for name in NUMERIC:
        ref, cur = data.reference[name].to_numpy(dtype=float), data.current[name].to_numpy(dtype=float)
        ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
        scores[name] = wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
        if scores[name] >= 0.1:
            drifted.append(name)
    for name in CATEGORICAL:
        scores[name] = float(jensenshannon(*_counts(data.reference, data.current, name)))
        if scores[name] >= 0.1:
            drifted.append(name)
    call = time.perf_counter() - start
    data.result("stats", rows, call, _verdict(drifted, scores))


def _drift(monitoring, reference, current, sample_rows: int) -> tuple[float, dict[str, Any]]:
    from mlcycle.core.config import MonitoringConfig

    limits = MonitoringConfig(sample_rows=sample_rows)
    start = time.perf_counter()
    _, share, failed, scores, _ = monitoring.drift_report(current, reference, COLUMNS, limits)
    call = time.perf_counter() - start
    return call, _verdict([c for c in failed if c in COLUMNS], scores, float(share))


def _product(rows: int, sample_rows: int) -> None:
    """drift_report on the 1M-row frames: sampled to ``sample_rows`` per side (or not, when >= rows)."""
    data = _Start(PRODUCT_IMPORTS, rows)
    from evidently import Report

    from mlcycle.core import monitoring

    parts = CallTimer()  # timing shims around the parts of drift_report, in this worker process only
    owners = {"monitoring": monitoring, "Report": Report}
    for owner, function, label in PARTS:
        parts.wrap(owners[owner], function, label)
    call, verdict = _drift(monitoring, data.reference, data.current, sample_rows)
    emit("phase", name="drift_report", seconds=call)
    data.result("full" if sample_rows >= rows else "product", min(rows, sample_rows), call, verdict,
                sample_rows=sample_rows, parts=parts.figures())


def _agreement(rows: int, sample_rows: int, seeds: int) -> None:
    """Every scenario and seed: drift_report sampled, then on all rows, in this one process."""
    import gc

    import_groups(PRODUCT_IMPORTS)
    from mlcycle.core import monitoring

    for scenario in AGREEMENT_SCENARIOS:
        for seed in range(1, seeds + 1):
            reference, current = generate(rows, seed, shifts(scenario, seed))
            sampled_call, sampled = _drift(monitoring, reference, current, sample_rows)
            full_call, full = _drift(monitoring, reference, current, rows)
            emit("scenario", scenario=scenario, seed=seed, shifts=shifts(scenario, seed),
                 sampled={**sampled, "seconds": sampled_call}, full={**full, "seconds": full_call})
            del reference, current
            gc.collect()


def main(argv: list[str]) -> None:
    worker_main(WORKERS, {
        "baseline": lambda: _baseline(int(argv[1])), "stats": lambda: _stats(int(argv[1])),
        "product": lambda: _product(int(argv[1]), int(argv[2])),
        "agreement": lambda: _agreement(int(argv[1]), int(argv[2]), int(argv[3]))}, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
