"""Lake storage over fsspec URIs, so ``file://`` and ``s3://`` are one code path.

A partition (:mod:`mlcycle.core.lake` says where each one lives) is a folder holding
``data.parquet`` and a ``_manifest.json`` written last: a partition without its manifest is not
published. Writing a partition again replaces it; it never appends.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from typing import TYPE_CHECKING, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from mlcycle.core import lake, object_store
from mlcycle.core.lake import DATA_FILE, MANIFEST_FILE

if TYPE_CHECKING:
    import pandas as pd

class PartitionNotFound(FileNotFoundError):
    """A partition that was never published (or whose write did not finish)."""


def _fs(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    if object_store.is_s3(uri):  # credentials and endpoint from the Airflow AWS connection
        return fsspec.core.url_to_fs(uri, **object_store.fsspec_options())
    return fsspec.core.url_to_fs(uri)


def exists(uri: str) -> bool:
    fs, path = _fs(uri)
    return fs.exists(path)


def stat(uri: str) -> tuple[int, float] | None:
    """Size in bytes and modification time (epoch seconds) of a file; None when there is no such file."""
    fs, path = _fs(uri)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return None
    if info.get("type") == "directory":
        return None
    modified = info.get("mtime", info.get("LastModified"))  # local file systems; S3
    return int(info["size"]), float(modified.timestamp() if hasattr(modified, "timestamp") else modified)


def read_bytes(uri: str) -> bytes:
    fs, path = _fs(uri)
    return fs.cat_file(path)


def write_bytes_atomic(uri: str, data: bytes) -> None:
    """Write one object so that readers see the old or the new content, never half of it."""
    fs, path = _fs(uri)
    parent = path.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    if isinstance(fs, LocalFileSystem):
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}"
        fs.pipe_file(tmp, data)
        fs.mv(tmp, path)
    else:  # object stores publish a PUT atomically
        fs.pipe_file(path, data)


def copy(src: str, dst: str) -> None:
    """Copy one object (also across filesystems)."""
    write_bytes_atomic(dst, read_bytes(src))


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Deterministic parquet encoding: the same frame always gives the same bytes."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow", compression="snappy")
    return buffer.getvalue()


def write_partition(frame: pd.DataFrame, uri: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Replace the partition at ``uri`` with ``frame``; return its manifest (rows, md5, uri)."""
    data = parquet_bytes(frame)
    manifest = {"uri": uri, "rows": len(frame), "md5": hashlib.md5(data).hexdigest(),
                "columns": list(map(str, frame.columns)), **(meta or {})}
    fs, path = _fs(uri)
    if fs.exists(f"{path}/{MANIFEST_FILE}"):
        fs.rm(f"{path}/{MANIFEST_FILE}")  # unpublish first: readers never mix old and new
    for stale in fs.ls(path, detail=False) if fs.exists(path) else []:
        if stale.rsplit("/", 1)[-1] != DATA_FILE:
            fs.rm(stale, recursive=True)
    write_bytes_atomic(f"{uri}/{DATA_FILE}", data)
    write_bytes_atomic(f"{uri}/{MANIFEST_FILE}", json.dumps(manifest, indent=2).encode())
    return manifest


def read_manifest(uri: str) -> dict[str, Any]:
    """The manifest of a published partition."""
    try:
        return json.loads(read_bytes(f"{uri}/{MANIFEST_FILE}"))
    except FileNotFoundError as exc:
        raise PartitionNotFound(f"no published partition at {uri} (its {MANIFEST_FILE} is missing); "
                                "run the upstream stage for that date first") from exc


def read_partition(uri: str) -> pd.DataFrame:
    """Load a published partition."""
    import pandas as pd

    read_manifest(uri)
    return pd.read_parquet(io.BytesIO(read_bytes(f"{uri}/{DATA_FILE}")))


def remove_partition(uri: str) -> None:
    """Delete a partition if present (used when a re-run produces nothing for that zone)."""
    fs, path = _fs(uri)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def list_names(uri: str) -> list[str]:
    """Names of the entries of a folder, sorted (empty when it does not exist)."""
    fs, path = _fs(uri)
    if not fs.exists(path):
        return []
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False))


def list_partitions(zone: str, pipeline: str, lake_root: str | None = None) -> list[str]:
    """Dates of the published partitions of one zone, sorted."""
    folder = lake.zone(zone, pipeline, lake_root)
    return [n.removeprefix("ds=") for n in list_names(folder)
            if n.startswith("ds=") and exists(f"{folder}/{n}/{MANIFEST_FILE}")]


def local_path(uri: str) -> str:
    """Filesystem path of a ``file://`` URI; other schemes are returned unchanged."""
    return uri.removeprefix("file://")
