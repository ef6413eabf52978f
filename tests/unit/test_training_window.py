"""The training window: enough validated days for a holdout, a search fit and a search score."""

from __future__ import annotations

import pandas as pd
import pytest


def _validated(days: list[str]) -> None:
    from mlcycle.core import lake, storage

    for ds in days:
        frame = pd.DataFrame({"flight_date": pd.to_datetime([ds, ds]), "is_late": [0, 1]})
        storage.write_partition(frame, lake.partition("validated", "flights", ds))


def test_the_window_needs_holdout_plus_two_days(state, flights_config):
    from mlcycle.core.training import SPLIT_COLUMN, TrainingDataError, build_snapshot

    holdout = flights_config.training.holdout_days
    days = [f"2013-07-0{i}" for i in range(1, holdout + 3)]
    _validated(days[:-1])
    with pytest.raises(TrainingDataError, match=f"holdout_days \\+ 2 = {holdout + 2}"):
        build_snapshot(flights_config, days[-2])
    _validated(days[-1:])
    snapshot = build_snapshot(flights_config, days[-1])
    assert (snapshot[SPLIT_COLUMN] == "train").sum() == 4  # two training days of two rows
    assert (snapshot[SPLIT_COLUMN] == "holdout").sum() == 2 * holdout
