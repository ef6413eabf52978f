"""Pipeline config schema: the real config loads, and every bad config fails at load time with a
:class:`ConfigError` whose message names the file and the field at fault."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcycle import settings
from mlcycle.core.config import ConfigError, PipelineConfig, load_config, load_pipeline, load_pipelines
from mlcycle.errors import DataError

FLIGHTS_YAML = settings.INCLUDE_DIR / "pipelines" / "flights.yaml"


@pytest.fixture(scope="module")
def flights_raw() -> dict[str, Any]:
    """The versioned flights config as a plain mapping, to be altered by each test."""
    return yaml.safe_load(FLIGHTS_YAML.read_text(encoding="utf-8"))


def write_config(folder: Path, raw: dict[str, Any], file_name: str = "flights.yaml") -> Path:
    path = folder / file_name
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def refused(folder: Path, raw: dict[str, Any], *fragments: str) -> str:
    """Write ``raw``, load it, and check the error names the file and every fragment; returns the message."""
    path = write_config(folder, raw)
    message = load_error(path)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


# --- the real config -------------------------------------------------------------------------------


def test_flights_config_loads(flights_config: PipelineConfig) -> None:
    assert flights_config.name == "flights"
    assert flights_config.label == "is_late"
    assert flights_config.date_column == "flight_date"
    assert flights_config.columns["flight_date"] == "date"
    assert flights_config.columns["distance"] == "float"
    assert len(flights_config.columns) == 20
    assert flights_config.key == ["carrier", "flight", "origin", "sched_dep_time"]
    assert flights_config.retries == 2
    assert flights_config.schedule.start_date == dt.date(2013, 1, 1)
    assert flights_config.schedule.end_date == dt.date(2013, 12, 31)
    assert flights_config.suite_name == "flights"
    assert flights_config.validation.max_quarantine_share == pytest.approx(0.10)
    assert flights_config.landing_path("2013-01-05") == "flights/flights_2013-01-05.csv"


def test_flights_columns_match_the_producer(flights_config: PipelineConfig) -> None:
    from mlcycle.sources import nycflights

    assert list(flights_config.columns) == nycflights.COLUMNS


def test_load_pipelines_lists_every_config_sorted(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    write_config(tmp_path, flights_raw)
    other = {**copy.deepcopy(flights_raw), "name": "alpha"}
    write_config(tmp_path, other, "alpha.yaml")
    assert [c.name for c in load_pipelines(tmp_path)] == ["alpha", "flights"]


def test_config_is_frozen(flights_config: PipelineConfig) -> None:
    with pytest.raises(ValueError, match="frozen"):
        flights_config.retries = 5


def test_config_error_is_a_data_error() -> None:
    # Operators fail DataError at once instead of retrying: a bad config must be one.
    assert issubclass(ConfigError, DataError)


def test_unknown_pipeline_name_is_rejected() -> None:
    with pytest.raises(ConfigError, match="not a valid pipeline name"):
        load_pipeline("../etc/passwd")


def test_missing_pipeline_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no pipeline config at") as caught:
        load_pipeline("nothere", folder=tmp_path)
    assert str(tmp_path / "nothere.yaml") in str(caught.value)


# --- bad configs -----------------------------------------------------------------------------------


def test_unknown_top_level_field(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    refused(tmp_path, {**copy.deepcopy(flights_raw), "retires": 3}, "field 'retires'", "Extra inputs are not permitted")


def test_unknown_nested_field(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["landing"]["timeout"] = 5
    refused(tmp_path, raw, "field 'landing.timeout'")


def test_missing_required_field(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    del raw["description"]
    refused(tmp_path, raw, "field 'description'", "Field required")


def test_missing_nested_required_field(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    del raw["schedule"]["start_date"]
    message = load_error(write_config(tmp_path, raw))
    assert "field 'schedule.start_date'" in message


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("/data/landing/flights_{ds}.csv", "relative path inside the landing root"),
        ("flights/../../etc/flights_{ds}.csv", "relative path inside the landing root"),
        ("s3://bucket/flights_{ds}.csv", "relative path inside the landing root"),
        ("file:///tmp/flights_{ds}.csv", "relative path inside the landing root"),
        ("flights/flights.csv", "must contain '{ds}'"),
    ],
    ids=["absolute", "dotdot", "s3-scheme", "file-scheme", "no-ds"],
)
def test_bad_landing_pattern(tmp_path: Path, flights_raw: dict[str, Any], pattern: str, expected: str) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["landing"]["pattern"] = pattern
    refused(tmp_path, raw, "field 'landing.pattern'", expected)


def test_landing_pattern_may_use_the_pipeline_name(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["landing"]["pattern"] = "{pipeline}/{ds}/export.csv"
    config = load_config(write_config(tmp_path, raw))
    assert config.landing_path("2013-01-02") == "flights/2013-01-02/export.csv"


def test_label_not_in_columns(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["label"] = "arr_delay"
    refused(tmp_path, raw, "label 'arr_delay' is not listed under columns")


def test_date_column_not_in_columns(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["date_column"] = "day"
    message = load_error(write_config(tmp_path, raw))
    assert "date_column 'day' is not listed under columns" in message


def test_key_column_not_in_columns(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["key"] = ["carrier", "tail"]
    message = load_error(write_config(tmp_path, raw))
    assert "key columns ['tail'] are not listed under columns" in message


def test_date_column_must_have_type_date(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["columns"]["flight_date"] = "string"
    refused(tmp_path, raw, "date_column 'flight_date' must have type 'date'")


def test_unknown_column_type(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["columns"]["distance"] = "double"
    message = load_error(write_config(tmp_path, raw))
    assert "field 'columns.distance'" in message


def test_file_name_must_match_name(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    path = write_config(tmp_path, flights_raw, "flight.yaml")
    message = load_error(path)
    assert str(path) in message
    assert "field 'name' is 'flights'" in message
    assert "rename the file to flights.yaml" in message


def test_invalid_name(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    path = write_config(tmp_path, {**copy.deepcopy(flights_raw), "name": "Flights-2"}, "Flights-2.yaml")
    message = load_error(path)
    assert "field 'name'" in message


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "flights.yaml"
    path.write_text("name: flights\ncolumns: [a, b\n", encoding="utf-8")
    message = load_error(path)
    assert str(path) in message
    assert "not valid YAML" in message


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"], ids=["empty", "list", "scalar"])
def test_yaml_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "flights.yaml"
    path.write_text(text, encoding="utf-8")
    message = load_error(path)
    assert str(path) in message
    assert "expected a mapping of fields" in message


@pytest.mark.parametrize("retries", [0, -1])
def test_retries_must_be_at_least_one(tmp_path: Path, flights_raw: dict[str, Any], retries: int) -> None:
    refused(tmp_path, {**copy.deepcopy(flights_raw), "retries": retries}, "field 'retries'",
            "greater than or equal to 1")


def test_end_date_before_start_date(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["schedule"]["end_date"] = dt.date(2012, 12, 31)
    refused(tmp_path, raw, "field 'schedule'", "end_date must not be before start_date")


def test_end_date_equal_to_start_date_is_allowed(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["schedule"]["end_date"] = raw["schedule"]["start_date"]
    assert load_config(write_config(tmp_path, raw)).schedule.end_date == dt.date(2013, 1, 1)


def test_max_quarantine_share_above_one(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["validation"]["max_quarantine_share"] = 1.5
    message = load_error(write_config(tmp_path, raw))
    assert "field 'validation.max_quarantine_share'" in message


def test_every_error_is_reported_at_once(tmp_path: Path, flights_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(flights_raw)
    raw["retries"] = 0
    raw["landing"]["pattern"] = "/abs/{ds}.csv"
    message = load_error(write_config(tmp_path, raw))
    assert "field 'retries'" in message
    assert "field 'landing.pattern'" in message
