"""What the drift benchmark measures: its paths, sizes, verdict thresholds and (informational) targets."""

from __future__ import annotations

WORKERS = "bench.drift.workers"  # the module the worker processes run
ROWS = 1_000_000
SAMPLE_ROWS = 200_000          # MonitoringConfig.sample_rows default
FLIGHTS_SAMPLE_ROWS = 50_000   # include/pipelines/flights.yaml
AGREEMENT_ROWS = 100_000
AGREEMENT_SEEDS = 2
TARGET_RATIO = 3.0             # the product within 3x of the baseline (informational)
TARGET_PEAK_MB = 2048          # at most 2 GB peak RSS (informational)
KS_ALPHA, PSI_LIMIT = 0.05, 0.1
DEFAULT_SHARE, FLIGHTS_SHARE = 0.5, 0.1   # MonitoringConfig.drift_share default; flights.yaml's

KINDS = {
    "baseline": "baseline: scipy KS + PSI, all rows",
    "product": f"product: drift_report, sample {SAMPLE_ROWS:,}",
    "flights": f"product: drift_report, sample {FLIGHTS_SAMPLE_ROWS:,} (flights)",
    "stats": "scipy Wasserstein + JS (product's stats), all rows",
    "full": "Evidently full data: drift_report, no sampling",
}
SAMPLED = ("product", "flights", "full")  # the drift_report paths (sample sizes as above; full: no sampling)

# The parts of drift_report timed by the shims in the worker: (owner, function, label).
EMPTY_COLUMNS = "empty_columns() on the full frames"
PARTS = [("monitoring", "empty_columns", EMPTY_COLUMNS),
         ("monitoring", "sample", "sample() each side"),
         ("monitoring", "_datasets", "_datasets(): astype + Evidently Dataset"),
         ("Report", "run", "Evidently Report.run (stats, tests, widgets)")]
