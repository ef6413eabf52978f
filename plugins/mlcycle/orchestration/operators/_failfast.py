"""Turn bad-data errors into an immediate task failure: retries cannot fix a bad file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk.exceptions import AirflowFailException

from mlcycle.errors import DataError


@contextmanager
def fail_fast_on_data_errors() -> Iterator[None]:
    try:
        yield
    except DataError as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
