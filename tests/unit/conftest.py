"""Fixtures shared by the unit tests: one real day of the flights export, as CSV bytes and as frames."""

from __future__ import annotations

import pandas as pd
import pytest

DAY = "2013-01-02"


@pytest.fixture(scope="session")
def day_frame() -> pd.DataFrame:
    """The upstream export of 2013-01-02 (943 flights), as the producer builds it."""
    from mlcycle.sources import nycflights

    return nycflights.day(DAY)


@pytest.fixture(scope="session")
def day_csv(day_frame: pd.DataFrame) -> bytes:
    """The landed CSV file of 2013-01-02."""
    return day_frame.to_csv(index=False).encode()
