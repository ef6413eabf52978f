"""The request log of the serving app in the lake: ``requests/<p>/ds=<day>/`` (see :mod:`mlcycle.core.lake`).

Each flush of a server process writes one ``part-<time>-<random>.parquet``, atomically (a temporary
file renamed, or one PUT on S3), so a part is whole or absent and server processes never write the
same object. A day is *closed* by :func:`close_day` once no server can still flush into it (its end
plus :data:`CLOSE_GRACE`): the day's ``_manifest.json`` then lists its parts, and readers read only
what a manifest lists, as for every other partition. A part that lands after the close (a server that
was stuck) makes the day's md5 change, and the next :func:`close_day` lists it too.

A row holds the request id, when it came, the features as sent, the champion's ``prediction`` (and
``probability``), ``model_name``, ``model_version``, ``model_run_id`` and, while a challenger runs in
shadow, ``shadow_version``, ``shadow_prediction`` and ``shadow_probability``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import uuid
from typing import TYPE_CHECKING, Any

from mlcycle.core import lake, storage

if TYPE_CHECKING:
    import pandas as pd

PART_PREFIX, PART_SUFFIX = "part-", ".parquet"
CLOSE_GRACE = dt.timedelta(minutes=15)  # far longer than a flush interval: no server still writes the day


def write_part(pipeline: str, ds: str, frame: pd.DataFrame, lake_root: str | None = None) -> str:
    """Publish one flush of one server process for one day; returns its URI."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    name = f"{PART_PREFIX}{stamp}-{uuid.uuid4().hex[:12]}{PART_SUFFIX}"
    uri = f"{lake.partition('requests', pipeline, ds, lake_root)}/{name}"
    storage.write_bytes_atomic(uri, storage.parquet_bytes(frame))
    return uri


def parts(pipeline: str, ds: str, lake_root: str | None = None) -> list[str]:
    """Names of the day's part files, in time order (written or not yet listed by a manifest)."""
    return [n for n in storage.list_names(lake.partition("requests", pipeline, ds, lake_root))
            if n.startswith(PART_PREFIX) and n.endswith(PART_SUFFIX)]


def days(pipeline: str, lake_root: str | None = None) -> list[str]:
    """Days with at least one part, sorted."""
    folder = lake.zone("requests", pipeline, lake_root)
    return [n.removeprefix("ds=") for n in storage.list_names(folder)
            if n.startswith("ds=") and parts(pipeline, n.removeprefix("ds="), lake_root)]


def closable(ds: str, now: dt.datetime | None = None) -> bool:
    """Whether no server can still flush into day ``ds`` (UTC)."""
    end = dt.datetime.combine(dt.date.fromisoformat(ds) + dt.timedelta(days=1), dt.time(), dt.UTC)
    return (now or dt.datetime.now(dt.UTC)) >= end + CLOSE_GRACE


def close_day(pipeline: str, ds: str, lake_root: str | None = None, force: bool = False) -> dict[str, Any]:
    """Write (or refresh) the day's manifest listing every part; ``force`` closes a day still open (tests, a
    server known to be stopped). Raises ValueError for a day still open."""
    if not force and not closable(ds):
        raise ValueError(f"requests/{pipeline}/ds={ds} is still open: servers flush into it until "
                         f"{CLOSE_GRACE} after its end (UTC)")
    uri = lake.partition("requests", pipeline, ds, lake_root)
    names = parts(pipeline, ds, lake_root)
    digest, rows = hashlib.md5(), 0
    for name in names:
        data = storage.read_bytes(f"{uri}/{name}")
        digest.update(data)
        rows += _rows(data)
    manifest = {"uri": uri, "ds": ds, "parts": names, "rows": rows, "md5": digest.hexdigest(),
                "closed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    try:
        if {k: v for k, v in storage.read_manifest(uri).items() if k != "closed_at"} == \
                {k: v for k, v in manifest.items() if k != "closed_at"}:
            return storage.read_manifest(uri)
    except storage.PartitionNotFound:
        pass
    storage.write_bytes_atomic(f"{uri}/{lake.MANIFEST_FILE}", json.dumps(manifest, indent=1).encode())
    return manifest


def _rows(data: bytes) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(io.BytesIO(data)).metadata.num_rows


def read_day(pipeline: str, ds: str, lake_root: str | None = None) -> pd.DataFrame:
    """The rows of a closed day: the parts its manifest lists."""
    import pandas as pd

    uri = lake.partition("requests", pipeline, ds, lake_root)
    names = storage.read_manifest(uri)["parts"]
    frames = [pd.read_parquet(io.BytesIO(storage.read_bytes(f"{uri}/{name}"))) for name in names]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
