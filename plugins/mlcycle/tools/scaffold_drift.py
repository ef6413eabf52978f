"""Drift thresholds for a new pipeline, measured on the sample's own day-to-day variation.

Each sample day is compared with the other days by the same distances the monitor uses (Wasserstein in
standard deviations of the reference for numbers, Jensen-Shannon for categories). The thresholds sit a
margin above the 95th percentile of those normal distances, so an ordinary day does not raise drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

MARGIN = 1.25  # thresholds this far above the normal day-to-day distances
FALLBACK = (1.0, 0.2)  # numeric, categorical: with too few days to measure
MIN_DAYS = 3


@dataclass(frozen=True)
class DriftThresholds:
    numeric: float
    categorical: float
    note: str


def _numeric(day: pd.Series, rest: pd.Series) -> float | None:
    from scipy.stats import wasserstein_distance

    day, rest = day.dropna().astype(float), rest.dropna().astype(float)
    if day.empty or rest.empty or not rest.std():
        return None
    return float(wasserstein_distance(day, rest) / rest.std())


def _categorical(day: pd.Series, rest: pd.Series) -> float | None:
    from scipy.spatial.distance import jensenshannon

    day, rest = day.dropna().astype(str), rest.dropna().astype(str)
    if day.empty or rest.empty:
        return None
    values = sorted(set(day) | set(rest))
    share = [day.value_counts(normalize=True).reindex(values, fill_value=0),
             rest.value_counts(normalize=True).reindex(values, fill_value=0)]
    return float(jensenshannon(share[0], share[1], base=2))


def _percentile(values: list[float], fallback: float) -> float:
    import numpy as np

    return round(float(np.percentile(values, 95)) * MARGIN, 2) if values else fallback


def measure(frame: pd.DataFrame, date_column: str, numeric: list[str], categorical: list[str]) -> DriftThresholds:
    """Thresholds above the sample's normal day-to-day distances, and a sentence saying how they were chosen."""
    day = frame[date_column].dt.date
    days = sorted(day.dropna().unique())
    if len(days) < MIN_DAYS:
        return DriftThresholds(*FALLBACK, f"the sample has {len(days)} day(s), too few to measure day-to-day "
                                          f"variation; kept {FALLBACK[0]} / {FALLBACK[1]}: profile several days "
                                          "(--from-csv a folder or a glob) to measure them")
    distances: dict[str, list[float]] = {"numeric": [], "categorical": []}
    for one in days:
        inside, outside = frame[day == one], frame[day != one]
        for kind, columns, distance in (("numeric", numeric, _numeric), ("categorical", categorical, _categorical)):
            found = (distance(inside[c], outside[c]) for c in columns)
            distances[kind] += [d for d in found if d is not None]
    numeric_limit = _percentile(distances["numeric"], FALLBACK[0])
    categorical_limit = min(1.0, _percentile(distances["categorical"], FALLBACK[1]))
    return DriftThresholds(numeric_limit, categorical_limit,
                           f"measured on {len(days)} sample days: {MARGIN}x the 95th percentile of each day's "
                           "distance from the other days")
