"""Reconciliation of the validate stage: which raw partitions still wait for a validation outcome."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlcycle.core import lake, storage
from mlcycle.core.config import PipelineConfig
from mlcycle.stages.ingestion import pending_validation


def frame(value: int) -> pd.DataFrame:
    return pd.DataFrame({"flight": pd.array([value, value + 1], dtype="Int64")})


def write_raw(ds: str, value: int = 1) -> str:
    """Publish a raw partition and return its md5."""
    return storage.write_partition(frame(value), lake.partition("raw", "flights", ds), {"ds": ds})["md5"]


def write_validated(ds: str, raw_md5: str | None) -> None:
    meta = {"ds": ds} if raw_md5 is None else {"ds": ds, "raw_md5": raw_md5}
    storage.write_partition(frame(0), lake.partition("validated", "flights", ds), meta)


def write_rejected(ds: str, raw_md5: str) -> None:
    """What validate_day records when the gate rejects a batch."""
    uri = lake.quarantine('flights', ds, 'validate')
    storage.write_partition(frame(0), uri, {"stage": "validate", "ds": ds, "raw_md5": raw_md5,
                                            "batch_rejected": True})


def test_nothing_pending_in_an_empty_lake(state: Path, flights_config: PipelineConfig) -> None:
    assert pending_validation(flights_config) == []


def test_raw_without_validated_is_pending(state: Path, flights_config: PipelineConfig) -> None:
    write_raw("2013-01-03")
    write_raw("2013-01-01")
    assert pending_validation(flights_config) == ["2013-01-01", "2013-01-03"]


def test_validated_raw_is_not_pending(state: Path, flights_config: PipelineConfig) -> None:
    write_validated("2013-01-01", write_raw("2013-01-01"))
    write_raw("2013-01-02")
    assert pending_validation(flights_config) == ["2013-01-02"]


def test_raw_rewritten_after_validation_is_pending(state: Path, flights_config: PipelineConfig) -> None:
    old = write_raw("2013-01-01", value=1)
    write_validated("2013-01-01", old)
    new = write_raw("2013-01-01", value=2)
    assert new != old
    assert pending_validation(flights_config) == ["2013-01-01"]
    write_validated("2013-01-01", new)
    assert pending_validation(flights_config) == []


def test_raw_rewritten_with_identical_content_is_not_pending(state: Path, flights_config: PipelineConfig) -> None:
    write_validated("2013-01-01", write_raw("2013-01-01", value=1))
    write_raw("2013-01-01", value=1)  # re-ingest of the same file: same bytes, same md5
    assert pending_validation(flights_config) == []


def test_rejected_batch_is_not_pending(state: Path, flights_config: PipelineConfig) -> None:
    write_rejected("2013-01-01", write_raw("2013-01-01"))
    assert pending_validation(flights_config) == []


def test_raw_rewritten_after_rejection_is_pending(state: Path, flights_config: PipelineConfig) -> None:
    write_rejected("2013-01-01", write_raw("2013-01-01", value=1))
    write_raw("2013-01-01", value=2)  # the producer re-sent a fixed file
    assert pending_validation(flights_config) == ["2013-01-01"]


def test_validated_without_raw_md5_is_pending(state: Path, flights_config: PipelineConfig) -> None:
    write_raw("2013-01-01")
    write_validated("2013-01-01", raw_md5=None)
    assert pending_validation(flights_config) == ["2013-01-01"]


def test_unpublished_raw_is_not_pending(state: Path, flights_config: PipelineConfig) -> None:
    uri = lake.partition("raw", "flights", "2013-01-01")
    storage.write_bytes_atomic(f"{uri}/{lake.DATA_FILE}", storage.parquet_bytes(frame(1)))
    assert pending_validation(flights_config) == []


def test_outcomes_of_other_dates_do_not_count(state: Path, flights_config: PipelineConfig) -> None:
    md5 = write_raw("2013-01-01")
    assert write_raw("2013-01-02") == md5  # same content on two days
    write_validated("2013-01-01", md5)
    write_rejected("2013-01-03", md5)
    assert pending_validation(flights_config) == ["2013-01-02"]


def test_other_pipelines_are_ignored(state: Path, flights_config: PipelineConfig) -> None:
    storage.write_partition(frame(1), lake.partition("raw", "other", "2013-01-01"))
    assert pending_validation(flights_config) == []


def test_a_mixed_lake(state: Path, flights_config: PipelineConfig) -> None:
    write_validated("2013-01-01", write_raw("2013-01-01", 1))     # done
    write_rejected("2013-01-02", write_raw("2013-01-02", 2))      # rejected
    write_raw("2013-01-03", 3)                                     # new
    stale = write_raw("2013-01-04", 4)
    write_validated("2013-01-04", stale)
    write_raw("2013-01-04", 40)                                    # re-ingested
    assert pending_validation(flights_config) == ["2013-01-03", "2013-01-04"]


def test_landing_file_uri(state: Path, flights_config: PipelineConfig) -> None:
    assert lake.landing_file(flights_config.landing_path("2013-01-02")) == \
        f"file://{state.resolve()}/landing/flights/flights_2013-01-02.csv"
    assert lake.landing_file(flights_config.landing_path("2013-01-02"), landing="s3://in") == "s3://in/flights/flights_2013-01-02.csv"
