"""Worker processes of the backfill benchmark: land the days, and the plain-script baseline."""

from __future__ import annotations

import os
import sys
import time

from bench._harness.workers import emit, worker_main

PIPELINE = "flights"


def _land(first: str, count: int) -> None:
    """Land ``count`` days from ``first`` under $MLCYCLE_HOME, dated an hour back (landed before the runs)."""
    from mlcycle import settings
    from mlcycle.core.config import load_pipeline
    from mlcycle.sources import landing, nycflights

    start = time.perf_counter()
    config = load_pipeline(PIPELINE)
    old = time.time() - 3600
    for ds in landing.days(first, count):
        uri = nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
        os.utime(uri.removeprefix("file://"), (old, old))
    emit("result", seconds=time.perf_counter() - start)


def _plain(first: str, count: int) -> None:
    """Every day's ingest then validate, in this one process."""
    start = time.perf_counter()
    from mlcycle.core.config import load_pipeline
    from mlcycle.errors import DataError
    from mlcycle.sources import landing
    from mlcycle.stages import ingestion

    config = load_pipeline(PIPELINE)
    validated, failed = 0, []
    for ds in landing.days(first, count):
        ingestion.ingest_day(config, ds)
        try:
            ingestion.validate_day(config, ds, f"{PIPELINE}-{ds}-plain")
            validated += 1
        except DataError as exc:  # as the validate task would fail: counted, the backfill goes on
            failed.append(f"{ds}: {type(exc).__name__}")
    emit("result", seconds=time.perf_counter() - start, validated=validated, failed=failed)


def main(argv: list[str]) -> None:
    worker_main("bench.backfill.workers", {"land": lambda: _land(argv[1], int(argv[2])),
                                           "plain": lambda: _plain(argv[1], int(argv[2]))}, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
