"""Volume: a day whose row count is far from the recent normal fails validation.

The normal is the median row count of the validated days before the day (at most
``validation.volume_window_days`` of them); the check starts once ``volume_min_days`` exist. A day
below ``volume_min_ratio`` or above ``volume_max_ratio`` times that median is refused, with a message
that names the count, the range and how to accept the day anyway.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass

from mlcycle.core.config import PipelineConfig
from mlcycle.core.quality import QualityError


class VolumeError(QualityError):
    """The day's row count is outside its normal range; nothing was published."""


@dataclass(frozen=True)
class NormalRange:
    low: float
    high: float
    median: float
    days: int


def normal_range(history: list[int], config: PipelineConfig) -> NormalRange | None:
    """The range of row counts a day may have, from the counts of the validated days before it (oldest
    first); None while there are fewer than ``volume_min_days``."""
    validation = config.validation
    recent = history[-validation.volume_window_days:]
    if len(recent) < validation.volume_min_days:
        return None
    median = statistics.median(recent)
    high = median * validation.volume_max_ratio if validation.volume_max_ratio is not None else float("inf")
    return NormalRange(median * validation.volume_min_ratio, high, median, len(recent))


def check(rows: int, history: list[int], config: PipelineConfig, ds: str) -> NormalRange | None:
    """Raise :class:`VolumeError` when ``rows`` is outside the normal range; return the range checked."""
    normal = normal_range(history, config)
    if normal is None or normal.low <= rows <= normal.high:
        return normal
    validation = config.validation
    bounds = (f"{validation.volume_min_ratio:.0%} to {validation.volume_max_ratio:.0%}"
              if validation.volume_max_ratio is not None else f"at least {validation.volume_min_ratio:.0%}")
    accept = json.dumps({"ds": ds, "accept_volume": True})
    raise VolumeError(
        f"{config.name} {ds}: {rows} rows, outside the normal range {normal.low:.0f} to {normal.high:.0f} rows "
        f"({bounds} of the median {normal.median:g} of the {normal.days} validated days before it). Nothing was "
        f"published. If the day is right (a holiday, a sale), accept it: trigger validate_{config.name} with "
        f"{accept} (Param 'Accept an unusual row count'); if such days are normal, widen volume_min_ratio / "
        f"volume_max_ratio under validation in include/pipelines/{config.name}.yaml. If rows are missing, "
        f"ask the producer to re-send the day, then ingest it again")
