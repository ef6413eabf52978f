"""DVC versioning of one file into a throw-away DVC repo with a local-folder remote."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from mlcycle.core import lake, storage
from mlcycle.core.versioning import DataVersion, version_file


@pytest.fixture(scope="module")
def dvc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One DVC workspace and remote shared by the tests of this module (init costs seconds)."""
    base = tmp_path_factory.mktemp("dvc")
    return {"base": base, "root": base / "repo", "remote": base / "remote"}


def source(dvc: dict[str, Path], name: str, data: bytes) -> str:
    path = dvc["base"] / "sources" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"file://{path}"


def version(dvc: dict[str, Path], name: str, data: bytes, relative: str) -> DataVersion:
    return version_file(source(dvc, name, data), relative, root=dvc["root"], remote=str(dvc["remote"]))


def remote_object(dvc: dict[str, Path], md5: str) -> Path:
    return dvc["remote"] / "files" / "md5" / md5[:2] / md5[2:]


def test_version_file_adds_and_pushes(dvc: dict[str, Path]) -> None:
    data = b"flight,is_late\n1,0\r\n2,1\n"  # CRLF must not be normalised: md5 is of the exact bytes
    result = version(dvc, "a.csv", data, "raw/flights/ds=2013-01-02/data.parquet")
    md5 = hashlib.md5(data).hexdigest()
    assert result.md5 == md5
    assert result.path == "raw/flights/ds=2013-01-02/data.parquet"
    assert result.remote == str(dvc["remote"])
    target = dvc["root"] / "raw" / "flights" / "ds=2013-01-02" / "data.parquet"
    assert target.read_bytes() == data
    pointer = Path(result.pointer)
    assert pointer == target.with_name("data.parquet.dvc")
    assert pointer.read_text() == result.pointer_text
    outs = yaml.safe_load(result.pointer_text)["outs"]
    assert outs == [{"md5": md5, "size": len(data), "hash": "md5", "path": "data.parquet"}]
    assert remote_object(dvc, md5).read_bytes() == data
    assert (dvc["root"] / ".dvc").is_dir()
    assert result.md5 == md5


def test_same_content_gives_the_same_md5(dvc: dict[str, Path]) -> None:
    data = b"same bytes twice"
    first = version(dvc, "b1.csv", data, "raw/flights/ds=2013-01-03/data.parquet")
    second = version(dvc, "b2.csv", data, "raw/flights/ds=2013-01-03/data.parquet")
    elsewhere = version(dvc, "b3.csv", data, "raw/flights/ds=2013-01-04/data.parquet")
    assert first.md5 == second.md5 == elsewhere.md5 == hashlib.md5(data).hexdigest()
    assert first.pointer_text == second.pointer_text


def test_new_content_gives_a_new_md5_and_keeps_the_old_one(dvc: dict[str, Path]) -> None:
    relative = "raw/flights/ds=2013-01-05/data.parquet"
    old = version(dvc, "c1.csv", b"version one", relative)
    new = version(dvc, "c2.csv", b"version two", relative)
    assert old.md5 != new.md5
    assert new.md5 == hashlib.md5(b"version two").hexdigest()
    assert yaml.safe_load(Path(new.pointer).read_text())["outs"][0]["md5"] == new.md5
    # the remote keeps every version, so the old one can still be pulled back by its md5
    assert remote_object(dvc, old.md5).read_bytes() == b"version one"
    assert remote_object(dvc, new.md5).read_bytes() == b"version two"


def test_dvc_md5_equals_the_partition_manifest_md5(dvc: dict[str, Path], tmp_path: Path) -> None:
    # Lineage records the DVC md5 while reconciliation compares manifest md5s: they must agree.
    import pandas as pd

    uri = f"file://{tmp_path}/lake/raw/flights/ds=2013-01-06"
    manifest = storage.write_partition(pd.DataFrame({"x": [1, 2, 3]}), uri)
    result = version_file(f"{uri}/{lake.DATA_FILE}", "raw/flights/ds=2013-01-06/data.parquet",
                          root=dvc["root"], remote=str(dvc["remote"]))
    assert result.md5 == manifest["md5"]


def test_repo_config_points_at_the_remote(dvc: dict[str, Path]) -> None:
    from dvc.repo import Repo

    version(dvc, "d.csv", b"config check", "raw/flights/ds=2013-01-07/data.parquet")
    repo = Repo(str(dvc["root"]))
    try:
        core, remotes = repo.config["core"], repo.config["remote"]
    finally:
        repo.close()
    assert core["remote"] == "lake"
    assert core["analytics"] is False
    assert remotes["lake"]["url"] == str(dvc["remote"])
