"""Lake storage: partitions are published by their manifest, replaced (never appended) and deterministic."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from mlcycle import settings
from mlcycle.core import lake, storage


def sample(rows: int = 4, offset: int = 0) -> pd.DataFrame:
    """A small frame with the dtypes ingest produces: Int64, float64, string, datetime64."""
    return pd.DataFrame({
        "flight_date": pd.to_datetime(["2013-01-02"] * rows),
        "carrier": pd.array([f"C{i + offset}" for i in range(rows)], dtype="string"),
        "flight": pd.array([i + offset for i in range(rows - 1)] + [None], dtype="Int64"),
        "distance": [100.5 + i + offset for i in range(rows)],
    })


def files_in(uri: str) -> list[str]:
    return sorted(p.name for p in Path(storage.local_path(uri)).iterdir())


def test_partition_uri_uses_the_lake_of_the_state_folder(state: Path) -> None:
    uri = lake.partition("raw", "flights", "2013-01-02")
    assert uri == f"file://{state.resolve()}/lake/raw/flights/ds=2013-01-02"
    assert lake.partition("raw", "flights", "2013-01-02", lake="s3://b/p") == "s3://b/p/raw/flights/ds=2013-01-02"


def test_round_trip_keeps_values_and_dtypes(state: Path) -> None:
    frame = sample()
    uri = lake.partition("raw", "flights", "2013-01-02")
    storage.write_partition(frame, uri)
    back = storage.read_partition(uri)
    pd.testing.assert_frame_equal(back, frame)
    assert back["flight"].dtype == pd.Int64Dtype()
    assert back["carrier"].dtype == pd.StringDtype()
    assert pd.api.types.is_datetime64_dtype(back["flight_date"])
    assert back["flight"].isna().tolist() == [False, False, False, True]


def test_manifest_describes_the_data_file(state: Path) -> None:
    uri = lake.partition("raw", "flights", "2013-01-02")
    manifest = storage.write_partition(sample(), uri, {"ds": "2013-01-02", "source": "landing"})
    data = (Path(storage.local_path(uri)) / lake.DATA_FILE).read_bytes()
    assert manifest["rows"] == 4
    assert manifest["md5"] == hashlib.md5(data).hexdigest()
    assert manifest["uri"] == uri
    assert manifest["columns"] == ["flight_date", "carrier", "flight", "distance"]
    assert manifest["ds"] == "2013-01-02"
    assert manifest["source"] == "landing"
    assert storage.read_manifest(uri) == manifest
    on_disk = json.loads((Path(storage.local_path(uri)) / lake.MANIFEST_FILE).read_text())
    assert on_disk == manifest


def test_writing_again_replaces_the_partition(state: Path) -> None:
    uri = lake.partition("raw", "flights", "2013-01-02")
    storage.write_partition(sample(6), uri, {"attempt": 1})
    second = storage.write_partition(sample(3, offset=10), uri, {"attempt": 2})
    assert files_in(uri) == [lake.MANIFEST_FILE, lake.DATA_FILE]
    back = storage.read_partition(uri)
    assert len(back) == 3
    assert back["carrier"].tolist() == ["C10", "C11", "C12"]
    assert storage.read_manifest(uri) == second
    assert second["attempt"] == 2


def test_writing_removes_stale_files_of_the_partition(state: Path) -> None:
    uri = lake.partition("raw", "flights", "2013-01-02")
    folder = Path(storage.local_path(uri))
    folder.mkdir(parents=True)
    (folder / "part-0001.parquet").write_bytes(b"left over by an older writer")
    (folder / "sub").mkdir()
    (folder / "sub" / "x").write_text("x")
    storage.write_partition(sample(), uri)
    assert files_in(uri) == [lake.MANIFEST_FILE, lake.DATA_FILE]


def test_identical_frames_give_identical_bytes(state: Path) -> None:
    first = storage.write_partition(sample(), lake.partition("raw", "flights", "2013-01-02"))
    again = storage.write_partition(sample(), lake.partition("raw", "flights", "2013-01-02"))
    elsewhere = storage.write_partition(sample(), lake.partition("raw", "flights", "2013-01-03"))
    assert first["md5"] == again["md5"] == elsewhere["md5"]
    assert storage.parquet_bytes(sample()) == storage.parquet_bytes(sample())


def test_different_frames_give_different_md5(state: Path) -> None:
    uri = lake.partition("raw", "flights", "2013-01-02")
    first = storage.write_partition(sample(), uri)
    changed = sample()
    changed.loc[0, "distance"] = 999.0
    second = storage.write_partition(changed, uri)
    assert first["md5"] != second["md5"]


def test_partition_without_manifest_is_not_published(state: Path) -> None:
    uri = lake.partition("raw", "flights", "2013-01-02")
    storage.write_bytes_atomic(f"{uri}/{lake.DATA_FILE}", storage.parquet_bytes(sample()))
    with pytest.raises(storage.PartitionNotFound, match=lake.MANIFEST_FILE) as caught:
        storage.read_partition(uri)
    assert uri in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(storage.PartitionNotFound):
        storage.read_manifest(uri)


def test_missing_partition_is_not_found(state: Path) -> None:
    with pytest.raises(storage.PartitionNotFound):
        storage.read_partition(lake.partition("raw", "flights", "2013-01-09"))


def test_list_partitions_lists_only_published_ones(state: Path) -> None:
    assert storage.list_partitions("raw", "flights") == []
    for ds in ("2013-01-03", "2013-01-01", "2013-01-02"):
        storage.write_partition(sample(), lake.partition("raw", "flights", ds))
    unpublished = lake.partition("raw", "flights", "2013-01-04")
    storage.write_bytes_atomic(f"{unpublished}/{lake.DATA_FILE}", b"half written")
    storage.write_bytes_atomic(f"{settings.lake_uri()}/raw/flights/_SUCCESS", b"")
    storage.write_partition(sample(), lake.partition("raw", "other", "2013-01-05"))
    storage.write_partition(sample(), lake.partition("validated", "flights", "2013-01-06"))
    assert storage.list_partitions("raw", "flights") == ["2013-01-01", "2013-01-02", "2013-01-03"]
    assert storage.list_partitions("validated", "flights") == ["2013-01-06"]
    assert storage.list_partitions("raw", "nothing") == []


def test_list_partitions_with_an_explicit_lake(tmp_path: Path) -> None:
    other = f"file://{tmp_path / 'lake'}"
    storage.write_partition(sample(), lake.partition("raw", "flights", "2013-02-01", lake=other))
    assert storage.list_partitions("raw", "flights", lake_root=other) == ["2013-02-01"]


def test_remove_partition(state: Path) -> None:
    uri = lake.partition("raw", "flights", "2013-01-02")
    storage.write_partition(sample(), uri)
    storage.remove_partition(uri)
    assert not storage.exists(uri)
    assert storage.list_partitions("raw", "flights") == []
    storage.remove_partition(uri)  # removing what is gone is fine
    assert not storage.exists(uri)


def test_write_bytes_atomic_leaves_no_temp_files(tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/a/b/c/file.bin"
    storage.write_bytes_atomic(uri, b"first")
    storage.write_bytes_atomic(uri, b"second version")
    assert storage.read_bytes(uri) == b"second version"
    assert sorted(p.name for p in (tmp_path / "a" / "b" / "c").iterdir()) == ["file.bin"]
    assert [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp")] == []


def test_write_partition_leaves_no_temp_files(state: Path) -> None:
    uri = lake.partition("raw", "flights", "2013-01-02")
    for _ in range(3):
        storage.write_partition(sample(), uri)
    assert [p for p in state.rglob("*") if p.name.startswith(".tmp")] == []


def test_copy_and_exists(tmp_path: Path) -> None:
    src, dst = f"file://{tmp_path}/in/x.csv", f"file://{tmp_path}/out/deep/x.csv"
    assert not storage.exists(src)
    storage.write_bytes_atomic(src, b"a,b\n1,2\n")
    storage.copy(src, dst)
    assert storage.exists(dst)
    assert storage.read_bytes(dst) == b"a,b\n1,2\n"
    assert storage.read_bytes(src) == b"a,b\n1,2\n"


def test_local_path() -> None:
    assert storage.local_path("file:///tmp/lake/raw") == "/tmp/lake/raw"
    assert storage.local_path("s3://bucket/lake") == "s3://bucket/lake"
