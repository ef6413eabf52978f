"""Ingest of one landed CSV: whole-file errors raise IngestError, single bad rows go to quarantine."""

from __future__ import annotations

import pandas as pd
import pytest

from mlcycle.core.config import PipelineConfig
from mlcycle.core.ingest import REASON_COLUMN, IngestError, ingest_bytes
from mlcycle.errors import DataError

from .conftest import DAY

SOURCE = "file:///landing/flights/flights_2013-01-02.csv"


@pytest.fixture(scope="module")
def small(day_frame: pd.DataFrame) -> pd.DataFrame:
    """The first 10 flights of the day, as the producer exports them."""
    return day_frame.head(10).copy()


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def ingest_error(data: bytes, config: PipelineConfig, ds: str = DAY) -> str:
    with pytest.raises(IngestError) as caught:
        ingest_bytes(data, config, ds, SOURCE)
    return str(caught.value)


# --- good files ------------------------------------------------------------------------------------


def test_good_day_is_typed_and_nothing_is_quarantined(day_csv: bytes, day_frame: pd.DataFrame,
                                                     flights_config: PipelineConfig) -> None:
    kept, quarantined = ingest_bytes(day_csv, flights_config, DAY, SOURCE)
    assert len(kept) == len(day_frame) == 943
    assert quarantined.empty
    assert list(kept.columns) == list(flights_config.columns)
    expected = {"int": pd.Int64Dtype(), "float": "float64", "string": pd.StringDtype()}
    for column, kind in flights_config.columns.items():
        if kind == "date":
            assert pd.api.types.is_datetime64_dtype(kept[column]), column
        else:
            assert kept[column].dtype == expected[kind], column
    assert (kept["flight_date"] == pd.Timestamp(DAY)).all()
    # values survive the round trip through CSV
    assert kept["flight"].tolist() == day_frame["flight"].tolist()
    assert kept["distance"].tolist() == day_frame["distance"].astype(float).tolist()
    assert kept["carrier"].tolist() == day_frame["carrier"].tolist()


def test_columns_in_another_order_are_accepted(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    shuffled = small[list(reversed(small.columns))]
    kept, quarantined = ingest_bytes(csv(shuffled), flights_config, DAY, SOURCE)
    assert list(kept.columns) == list(flights_config.columns)
    assert len(kept) == 10
    assert quarantined.empty


def test_crlf_line_endings_are_accepted(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    kept, _ = ingest_bytes(csv(small).replace(b"\n", b"\r\n"), flights_config, DAY, SOURCE)
    assert len(kept) == 10
    assert kept["is_late"].dtype == pd.Int64Dtype()


def test_integral_float_text_is_an_int(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = small.astype({"flight": "float64"})  # "707.0"
    kept, _ = ingest_bytes(csv(frame), flights_config, DAY, SOURCE)
    assert kept["flight"].dtype == pd.Int64Dtype()
    assert kept["flight"].tolist() == small["flight"].tolist()


def test_null_labels_pass_ingest(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    # Cancelled flights have no label; GX quarantines them later, ingest keeps them.
    frame = small.copy()
    frame.loc[[2, 4], "is_late"] = pd.NA
    kept, quarantined = ingest_bytes(csv(frame), flights_config, DAY, SOURCE)
    assert len(kept) == 10
    assert quarantined.empty
    assert kept["is_late"].isna().tolist() == [i in (2, 4) for i in range(10)]


def test_real_day_with_cancelled_flights_keeps_them(day_csv: bytes, flights_config: PipelineConfig) -> None:
    kept, _ = ingest_bytes(day_csv, flights_config, DAY, SOURCE)
    assert kept["is_late"].isna().sum() == 15


# --- whole-file errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\n", b"  \r\n\n"], ids=["zero-bytes", "newline", "whitespace"])
def test_empty_file(data: bytes, flights_config: PipelineConfig) -> None:
    message = ingest_error(data, flights_config)
    assert SOURCE in message
    assert "is empty" in message


def test_header_only(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    message = ingest_error(csv(small.head(0)), flights_config)
    assert SOURCE in message
    assert "no rows" in message


def test_missing_column(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    message = ingest_error(csv(small.drop(columns=["distance", "visib"])), flights_config)
    assert "missing columns ['distance', 'visib']" in message
    assert "unexpected columns []" in message
    assert "include/pipelines/flights.yaml" in message


def test_extra_column(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    message = ingest_error(csv(small.assign(arr_delay=3)), flights_config)
    assert "missing columns []" in message
    assert "unexpected columns ['arr_delay']" in message


def test_renamed_column_lists_both_sides(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    message = ingest_error(csv(small.rename(columns={"carrier": "airline"})), flights_config)
    assert "missing columns ['carrier']" in message
    assert "unexpected columns ['airline']" in message


def test_text_in_a_float_column(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = small.astype({"distance": object})
    frame.loc[3, "distance"] = "abc"
    message = ingest_error(csv(frame), flights_config)
    assert "column 'distance' expects float" in message
    assert "1 value(s) do not parse" in message
    assert "line 5: 'abc'" in message  # header is line 1, row 3 is line 5


def test_fraction_in_an_int_column(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = small.astype({"flight": object})
    frame.loc[0, "flight"] = "1.5"
    frame.loc[7, "flight"] = "seven"
    message = ingest_error(csv(frame), flights_config)
    assert "column 'flight' expects int" in message
    assert "2 value(s) do not parse" in message
    assert "line 2: '1.5'" in message
    assert "line 9: 'seven'" in message


def test_every_bad_column_is_reported(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = small.astype({"hour": object, "temp": object})
    frame.loc[1, "hour"] = "noon"
    frame.loc[2, "temp"] = "warm"
    message = ingest_error(csv(frame), flights_config)
    assert "column 'hour' expects int" in message
    assert "column 'temp' expects float" in message


def test_examples_are_capped(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = small.astype({"distance": object})
    frame["distance"] = "far"
    message = ingest_error(csv(frame), flights_config)
    assert "10 value(s) do not parse" in message
    assert "line 4:" in message
    assert "line 5:" not in message  # at most three examples


def test_bad_date_format(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = small.copy()
    frame.loc[0, "flight_date"] = "02/01/2013"
    message = ingest_error(csv(frame), flights_config)
    assert "column 'flight_date' expects date" in message
    assert "line 2: '02/01/2013'" in message


def test_not_utf8(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = small.copy()
    frame.loc[0, "dest"] = "Montréal"
    data = frame.to_csv(index=False).encode("latin-1")
    message = ingest_error(data, flights_config)
    assert SOURCE in message
    assert "not valid UTF-8" in message
    assert "byte 0xe9" in message
    offset = data.index("é".encode("latin-1"))
    assert f"offset {offset}" in message


def test_utf8_text_is_kept(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = small.copy()
    frame.loc[0, "dest"] = "Montréal"
    kept, _ = ingest_bytes(csv(frame), flights_config, DAY, SOURCE)
    assert kept.loc[0, "dest"] == "Montréal"


def test_malformed_csv(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    data = csv(small) + b"2013-01-02,B6,1,N1,JFK,BOS,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n"
    message = ingest_error(data, flights_config)
    assert "not a well-formed CSV" in message


def test_ingest_error_is_a_data_error() -> None:
    assert issubclass(IngestError, DataError)


# --- single bad rows -------------------------------------------------------------------------------


def test_exact_duplicates_are_quarantined(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = pd.concat([small, small.iloc[[1, 1, 6]]], ignore_index=True)
    kept, quarantined = ingest_bytes(csv(frame), flights_config, DAY, SOURCE)
    assert len(kept) == 10
    assert not kept.duplicated().any()
    assert len(quarantined) == 3
    assert (quarantined[REASON_COLUMN] == "exact duplicate of an earlier row").all()
    assert quarantined["flight"].tolist() == small["flight"].iloc[[1, 1, 6]].tolist()
    assert list(quarantined.columns) == [*flights_config.columns, REASON_COLUMN]


def test_same_key_but_different_values_is_not_an_exact_duplicate(small: pd.DataFrame,
                                                                  flights_config: PipelineConfig) -> None:
    twin = small.iloc[[0]].assign(temp=small["temp"].iloc[0] + 1)
    kept, quarantined = ingest_bytes(csv(pd.concat([small, twin])), flights_config, DAY, SOURCE)
    assert len(kept) == 11  # key uniqueness is the GX suite's job, not ingest's
    assert quarantined.empty


def test_rows_of_another_date_are_quarantined(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = small.copy()
    frame.loc[[3, 8], "flight_date"] = "2013-01-03"
    kept, quarantined = ingest_bytes(csv(frame), flights_config, DAY, SOURCE)
    assert len(kept) == 8
    assert (kept["flight_date"] == pd.Timestamp(DAY)).all()
    assert len(quarantined) == 2
    assert (quarantined[REASON_COLUMN] == f"flight_date is not {DAY}").all()
    assert (quarantined["flight_date"] == pd.Timestamp("2013-01-03")).all()
    assert quarantined["flight"].tolist() == small["flight"].iloc[[3, 8]].tolist()


def test_rows_without_a_date_are_quarantined(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = small.copy()
    frame.loc[5, "flight_date"] = None
    kept, quarantined = ingest_bytes(csv(frame), flights_config, DAY, SOURCE)
    assert len(kept) == 9
    assert quarantined[REASON_COLUMN].tolist() == [f"flight_date is not {DAY}"]


def test_duplicates_and_wrong_dates_together(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    frame = pd.concat([small, small.iloc[[0]]], ignore_index=True)
    frame.loc[4, "flight_date"] = "2013-01-01"
    kept, quarantined = ingest_bytes(csv(frame), flights_config, DAY, SOURCE)
    assert len(kept) == 9
    assert sorted(quarantined[REASON_COLUMN]) == ["exact duplicate of an earlier row", f"flight_date is not {DAY}"]


def test_file_of_another_date(small: pd.DataFrame, flights_config: PipelineConfig) -> None:
    message = ingest_error(csv(small), flights_config, ds="2013-01-05")
    assert SOURCE in message
    assert "file for 2013-01-05" in message
    assert f"rows are dated {DAY}" in message
    assert "wrong date" in message

