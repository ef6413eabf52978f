"""What every demo data source shares: consecutive days, landing one day's CSV, the command line."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlcycle import settings
from mlcycle.core import lake, storage

if TYPE_CHECKING:
    import pandas as pd


def days(start: str, count: int) -> list[str]:
    """``count`` consecutive ISO dates from ``start``."""
    first = dt.date.fromisoformat(start)
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(count)]


def land_frame(frame: pd.DataFrame, landing_uri: str, relative_path: str) -> str:
    """Write one day's rows as CSV into the landing zone (atomically) and return its URI."""
    uri = lake.landing_file(relative_path, landing_uri)
    storage.write_bytes_atomic(uri, frame.to_csv(index=False).encode())
    return uri


def run_cli(doc: str, pipeline: str, start: str, first: dt.date, last: dt.date,
            land_day: Callable[[str, str, str], str], argv: list[str] | None = None) -> None:
    """``python -m mlcycle.sources.<source>``: land consecutive days of the source for a pipeline."""
    from mlcycle.core.config import load_pipeline

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--pipeline", default=pipeline, help="pipeline config to land for")
    parser.add_argument("--start", default=start, help=f"first day, YYYY-MM-DD ({first} to {last})")
    parser.add_argument("--days", type=int, default=14, help="number of consecutive days")
    parser.add_argument("--landing-uri", default=None, help="landing root (default: $MLCYCLE_LANDING_URI)")
    args = parser.parse_args(argv)
    config = load_pipeline(args.pipeline)
    landing = args.landing_uri or settings.landing_uri()
    dates = days(args.start, args.days)
    if not first.isoformat() <= dates[0] <= dates[-1] <= last.isoformat():
        parser.error(f"{dates[0]}..{dates[-1]} is not inside {first}..{last}, the days this source covers")
    for ds in dates:
        print(f"landed {ds}: {land_day(ds, landing, config.landing_path(ds))}", flush=True)
