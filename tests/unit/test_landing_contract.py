"""Whether a landed file is whole (truncated, malformed rows, producer manifest), its format (CSV dialects,
byte-order mark, parquet) and its volume, at the domain level; and for each class refused or quarantined
by the ingest step, that a copy and the reason are in quarantine while the landed file is never touched."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from mlcycle.core import lake, storage, volume
from mlcycle.core.config import PipelineConfig
from mlcycle.core.ingest import REASON_COLUMN, IngestError, ingest_file

from .conftest import DAY

SOURCE = "file:///landing/flights/flights_2013-01-02.csv"


def with_landing(config: PipelineConfig, **landing) -> PipelineConfig:
    return config.model_copy(update={"landing": config.landing.model_copy(update=landing)})


def refused(data: bytes, config: PipelineConfig, manifest: bytes | None = None) -> str:
    with pytest.raises(IngestError) as caught:
        ingest_file(data, config, DAY, SOURCE, manifest, f"{SOURCE}.manifest.json")
    return str(caught.value)


@pytest.fixture(scope="module")
def small_csv(day_frame: pd.DataFrame) -> bytes:
    return day_frame.head(10).to_csv(index=False).encode()


@pytest.fixture
def expected(day_csv: bytes, flights_config: PipelineConfig) -> pd.DataFrame:
    """The typed rows of the day as today's default CSV gives them: every format must give the same."""
    return ingest_file(day_csv, flights_config, DAY, SOURCE).kept


# --- whole files -----------------------------------------------------------------------------------


def test_a_file_cut_mid_row_is_refused_as_truncated(day_csv: bytes, flights_config: PipelineConfig) -> None:
    cut = day_csv[: int(len(day_csv) * 0.6)]
    assert not cut.endswith(b"\n")
    assert cut.count(b"\n") > 500
    message = refused(cut, flights_config)
    last_line = cut.count(b"\n") + 1
    assert f"{SOURCE} is truncated" in message
    assert f"its last line ({last_line})" in message
    assert "no final newline" in message


def test_a_last_row_without_newline_but_whole_is_accepted(small_csv: bytes, flights_config: PipelineConfig) -> None:
    kept, quarantined, malformed = ingest_file(small_csv.rstrip(b"\n"), flights_config, DAY, SOURCE)
    assert len(kept) == 10
    assert quarantined.empty
    assert malformed.empty


def test_rows_with_the_wrong_number_of_fields_are_quarantined_with_their_lines(
        day_csv: bytes, flights_config: PipelineConfig, expected: pd.DataFrame) -> None:
    lines = day_csv.decode().splitlines(keepends=True)
    extra, short = lines[3].replace(",", ",,", 1), ",".join(lines[7].split(",")[:5]) + "\n"
    lines.insert(1, "x,y\n")  # line 2, right after the header
    lines.insert(4, extra)  # line 5
    lines.insert(301, short)  # line 302
    kept, _, malformed = ingest_file("".join(lines).encode(), flights_config, DAY, SOURCE)
    pd.testing.assert_frame_equal(kept, expected)  # the other rows, typed as without the bad ones
    assert malformed["line"].tolist() == [2, 5, 302]
    assert malformed["fields"].tolist() == [2, 21, 5]
    assert malformed["text"].tolist() == ["x,y", extra.rstrip("\n"), short.rstrip("\n")]
    assert malformed[REASON_COLUMN].tolist() == ["line 2: 2 fields, the header has 20",
                                                 "line 5: 21 fields, the header has 20",
                                                 "line 302: 5 fields, the header has 20"]


def test_line_numbers_stay_right_after_a_malformed_row(day_csv: bytes, flights_config: PipelineConfig) -> None:
    lines = day_csv.decode().splitlines(keepends=True)
    lines.insert(2, "a,b\n")  # line 3, malformed
    fields = lines[10].split(",")
    fields[9] = "far"  # distance, on line 11
    lines[10] = ",".join(fields)
    message = refused("".join(lines).encode(), flights_config)
    assert "line 11: 'far'" in message


def test_too_many_malformed_rows_refuse_the_file(small_csv: bytes, flights_config: PipelineConfig) -> None:
    data = small_csv + b"2013-01-02,B6,1,N1,JFK,BOS,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n"
    message = refused(data, flights_config)
    assert "not a well-formed CSV: 1 of 11 rows (9.1%)" in message
    assert "line 12: 22 fields" in message
    assert "landing.max_malformed_share" in message


def test_a_file_that_matches_its_manifest_is_accepted(small_csv: bytes, flights_config: PipelineConfig) -> None:
    manifest = json.dumps({"rows": 10, "md5": hashlib.md5(small_csv).hexdigest(), "bytes": len(small_csv),
                           "producer": "export v2"}).encode()
    assert len(ingest_file(small_csv, flights_config, DAY, SOURCE, manifest).kept) == 10


@pytest.mark.parametrize(("manifest", "fragments"), [
    ({"rows": 12}, ["rows 10 where the manifest says 12"]),
    ({"md5": "0" * 32, "bytes": 5}, ["md5 ", "where the manifest says 000", "bytes "]),
    ("not json", ["is not valid JSON"]),
    ({"producer": "x"}, ["none of the fields md5, bytes, rows"]),
])
def test_a_file_that_differs_from_its_manifest_is_refused(manifest, fragments, small_csv: bytes,
                                                         flights_config: PipelineConfig) -> None:
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    message = refused(small_csv, flights_config, text.encode())
    assert f"{SOURCE}.manifest.json" in message
    for fragment in fragments:
        assert fragment in message


# --- formats --------------------------------------------------------------------------------------


def test_another_csv_dialect_gives_the_same_rows(day_frame: pd.DataFrame, flights_config: PipelineConfig,
                                                 expected: pd.DataFrame) -> None:
    config = with_landing(flights_config, delimiter=";", decimal=",", quotechar="'", encoding="latin-1")
    data = day_frame.to_csv(index=False, sep=";", decimal=",", quotechar="'").encode("latin-1")
    assert b"," in data
    assert b";" in data
    kept, _, malformed = ingest_file(data, config, DAY, SOURCE)
    pd.testing.assert_frame_equal(kept, expected)
    assert malformed.empty


def test_a_byte_order_mark_is_tolerated(day_csv: bytes, flights_config: PipelineConfig, expected) -> None:
    pd.testing.assert_frame_equal(ingest_file(b"\xef\xbb\xbf" + day_csv, flights_config, DAY, SOURCE).kept, expected)
    utf16 = with_landing(flights_config, encoding="utf-16")  # the codec's own mark
    pd.testing.assert_frame_equal(ingest_file(day_csv.decode().encode("utf-16"), utf16, DAY, SOURCE).kept, expected)


def test_bytes_not_in_the_configured_encoding_are_refused(flights_config: PipelineConfig) -> None:
    message = refused("flight_date,dest\n2013-01-02,Montréal\n".encode("latin-1"),
                      with_landing(flights_config, encoding="ascii"))
    assert "is not valid ascii (byte 0xe9 at offset 33)" in message
    assert "landing.encoding" in message


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def test_a_parquet_file_gives_the_same_rows(day_frame: pd.DataFrame, flights_config: PipelineConfig,
                                            expected: pd.DataFrame) -> None:
    config = with_landing(flights_config, format="parquet")
    typed = day_frame.assign(flight_date=pd.to_datetime(day_frame["flight_date"]).dt.date)  # a date32 column
    for frame in (day_frame, typed):
        kept, _, malformed = ingest_file(parquet(frame), config, DAY, SOURCE)
        pd.testing.assert_frame_equal(kept, expected)
        assert malformed.empty


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda f, data: data[: len(data) // 2], "is not a readable parquet file"),
    (lambda f, data: parquet(f.drop(columns=["distance"])), "missing columns ['distance']"),
    (lambda f, data: parquet(f.assign(flight_date=pd.Timestamp(f"{DAY} 06:30"))),
     "column 'flight_date' expects date but 10 value(s) do not parse (row 1:"),
    (lambda f, data: parquet(f.assign(flight="seven")), "column 'flight' expects int"),
])
def test_parquet_goes_through_the_same_contract(change, fragment, day_frame: pd.DataFrame,
                                                flights_config: PipelineConfig) -> None:
    small = day_frame.head(10)
    message = refused(change(small, parquet(small)), with_landing(flights_config, format="parquet"))
    assert fragment in message


# --- volume ---------------------------------------------------------------------------------------


def test_the_normal_range_needs_enough_days(flights_config: PipelineConfig) -> None:
    assert volume.normal_range([900] * 6, flights_config) is None
    normal = volume.normal_range([100] * 10 + [900, 1000, 950] * 5, flights_config)  # the last 14 count
    assert (normal.median, normal.days, normal.low, normal.high) == (950, 14, 950 * 0.6, 950 * 1.25)


@pytest.mark.parametrize("rows", [569, 1188])
def test_a_day_far_from_the_normal_fails_with_the_range_and_how_to_accept_it(rows, flights_config) -> None:
    with pytest.raises(volume.VolumeError) as caught:
        volume.check(rows, [950] * 14, flights_config, "2013-11-28")
    message = str(caught.value)
    assert f"flights 2013-11-28: {rows} rows, outside the normal range 570 to 1188 rows" in message
    assert "60% to 125% of the median 950 of the 14 validated days before it" in message
    assert 'trigger validate_flights with {"ds": "2013-11-28", "accept_volume": true}' in message
    assert "include/pipelines/flights.yaml" in message


def test_a_day_inside_the_range_or_without_an_upper_bound_passes(flights_config: PipelineConfig) -> None:
    assert volume.check(570, [950] * 14, flights_config, DAY).low == 570
    unbounded = flights_config.model_copy(update={"validation": flights_config.validation.model_copy(
        update={"volume_max_ratio": None})})
    assert volume.check(10_000, [950] * 14, unbounded, DAY).high == float("inf")


# --- the ingest and validate steps: quarantine, and the landed file untouched ------------------------


def land(config: PipelineConfig, data: bytes, manifest: bytes | None = None) -> Path:
    from mlcycle import settings

    path = Path(storage.local_path(lake.landing_file(config.landing_path(DAY), settings.landing_uri())))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if manifest is not None:
        Path(f"{path}.manifest.json").write_bytes(manifest)
    return path


def untouched(path: Path, data: bytes, mtime: int) -> bool:
    return path.read_bytes() == data and path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("case", ["truncated", "malformed", "manifest", "parquet"])
def test_a_refused_file_is_copied_to_quarantine_with_its_reason_and_left_in_place(
        case, state: Path, day_csv: bytes, small_csv: bytes, flights_config: PipelineConfig) -> None:
    from mlcycle.stages import ingestion

    config, manifest = flights_config, None
    data = {"truncated": day_csv[:-30], "malformed": small_csv + b"1,2\n", "manifest": small_csv,
            "parquet": b"PAR1 cut"}[case]
    if case == "manifest":
        manifest = json.dumps({"rows": 943}).encode()
    if case == "parquet":
        config = with_landing(config, format="parquet")
    landed = land(config, data, manifest)
    mtime = landed.stat().st_mtime_ns
    with pytest.raises(IngestError) as caught:
        ingestion.ingest_day(config, DAY)
    assert "a copy of the file is quarantined" in str(caught.value)
    kept = Path(storage.local_path(lake.quarantine("flights", DAY, "file")))
    reason = json.loads((kept / "reason.json").read_text())
    assert reason["source"].endswith(landed.name)
    assert str(caught.value).startswith(reason["reason"])
    assert (kept / landed.name).read_bytes() == data
    assert (kept / f"{landed.name}.manifest.json").exists() == (manifest is not None)
    assert untouched(landed, data, mtime)
    assert not storage.list_partitions("raw", "flights")


def test_malformed_rows_go_to_quarantine_and_the_rest_is_ingested(state: Path, day_csv: bytes,
                                                                  flights_config: PipelineConfig) -> None:
    from mlcycle.stages import ingestion

    lines = day_csv.decode().splitlines(keepends=True)
    data = "".join([*lines[:6], "2013-01-02,UA,1\n", *lines[6:]]).encode()
    landed = land(flights_config, data)
    mtime = landed.stat().st_mtime_ns
    result = ingestion.ingest_day(flights_config, DAY)
    assert (result["rows"], result["malformed_rows"]) == (943, 1)
    quarantined = storage.read_partition(result["malformed_uri"])
    assert quarantined[["line", "text"]].values.tolist() == [[7, "2013-01-02,UA,1"]]
    assert storage.read_manifest(result["malformed_uri"])["reasons"] == {"line 7: 3 fields, the header has 20": 1}
    assert untouched(landed, data, mtime)


def test_an_abnormal_day_fails_validation_until_accepted(state: Path, day_csv: bytes,
                                                         flights_config: PipelineConfig) -> None:
    """Seven normal days before it; the day has a third of their rows. Refused, then accepted by the Param."""
    from mlcycle.stages import ingestion

    frame = ingest_file(day_csv, flights_config, DAY, SOURCE).kept
    for day in range(3, 10):
        ds = f"2013-01-{day:02d}"
        md5 = storage.write_partition(frame, lake.partition("raw", "flights", ds), {"ds": ds})["md5"]
        storage.write_partition(frame, lake.partition("validated", "flights", ds), {"ds": ds, "raw_md5": md5})
    ds = "2013-01-10"
    storage.write_partition(frame.head(300).assign(flight_date=pd.Timestamp(ds)), lake.partition("raw", "flights", ds),
                            {"ds": ds})
    with pytest.raises(volume.VolumeError, match="300 rows, outside the normal range 566 to 1179"):
        ingestion.validate_day(flights_config, ds)
    assert ds not in storage.list_partitions("validated", "flights")
    rejected = storage.read_manifest(lake.quarantine("flights", ds, "validate"))
    assert rejected["batch_rejected"]
    assert rejected["rows"] == 300
    assert ingestion.pending_validation(flights_config) == [], "a refused day is not retried by itself"
    assert ingestion.validate_day(flights_config, ds, accept_volume=True)["rows"] > 290
    assert storage.read_manifest(lake.partition("validated", "flights", ds))["volume"] == "accepted by hand"
