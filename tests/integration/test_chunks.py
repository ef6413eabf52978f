"""Chunks of days (long backfills): a kill -9 mid-chunk, then the retry redoes only the missing days.

Real DVC, real GX, a real process killed with SIGKILL. The child is stopped at a known day without a
mock: that day's input is a named pipe (FIFO), so reading it blocks until the test kills the process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
DAYS = ["2013-02-04", "2013-02-05", "2013-02-06", "2013-02-07"]
RUN = "backfill__2013-02-04"
CHILD = """
import sys
from mlcycle.core.config import load_pipeline
from mlcycle.stages import ingestion
step = getattr(ingestion, sys.argv[1])
step(load_pipeline("flights"), sys.argv[3:], run_id=sys.argv[2])
"""


def _land(config, ds: str) -> Path:
    from mlcycle import settings
    from mlcycle.sources import nycflights

    return Path(nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds)).removeprefix("file://"))


def _blocked_then_killed(path: Path, step: str, published: Path) -> bytes:
    """Put a FIFO at ``path`` (its bytes kept aside), run ``step`` over DAYS in a child process, wait until
    ``published`` exists (the day before the FIFO's is done), check the child is stuck on the FIFO, kill -9
    it; the FIFO goes, the bytes are returned for the test to put back."""
    data = path.read_bytes()
    path.unlink()
    os.mkfifo(path)
    child = subprocess.Popen([sys.executable, "-c", CHILD, step, RUN, *DAYS], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300  # a hang guard, not a threshold
        while not published.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert published.exists(), child.stderr.read().decode()[-3000:] if child.poll() is not None else "stuck"
        assert child.poll() is None, "the child should be blocked on the FIFO"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    path.unlink()
    return data


def _mtimes(zone: str) -> dict[str, int]:
    from mlcycle.core import lake, storage

    return {ds: os.stat(lake.partition(zone, "flights", ds).removeprefix("file://") + "/" + storage.MANIFEST_FILE)
            .st_mtime_ns for ds in DAYS[:2]}


def test_a_chunk_killed_mid_way_resumes_with_the_missing_days_only(flights_config, state):
    from mlcycle import settings
    from mlcycle.core import lake, storage
    from mlcycle.stages import ingestion

    landed = [_land(flights_config, ds) for ds in DAYS]
    raw_root = Path(lake.zone("raw", "flights").removeprefix("file://"))
    # ingest: killed while reading the third day's file; the first two are written, nothing is versioned yet
    data = _blocked_then_killed(landed[2], "ingest_days", raw_root / f"ds={DAYS[1]}" / storage.MANIFEST_FILE)
    landed[2].write_bytes(data)
    assert storage.list_partitions("raw", "flights") == DAYS[:2]
    before = _mtimes("raw")
    chunk = ingestion.ingest_days(flights_config, DAYS, run_id=RUN)
    assert chunk.resumed == DAYS[:2]
    assert not chunk.failed
    assert [r["ds"] for r in chunk.done] == DAYS
    assert _mtimes("raw") == before
    for result in chunk.done:  # every day versioned, the kept ones too
        manifest = storage.read_manifest(result["uri"])
        pointer = settings.dvc_repo_dir() / f"{lake.dvc_path(result['uri'])}.dvc"
        assert pointer.exists()
        assert result["md5"] == manifest["md5"]
        assert manifest["run"] == RUN

    # validate: killed while reading the third day's raw data; the first two are published
    validated_root = Path(lake.zone("validated", "flights").removeprefix("file://"))
    parquet = raw_root / f"ds={DAYS[2]}" / storage.DATA_FILE
    data = _blocked_then_killed(parquet, "validate_days", validated_root / f"ds={DAYS[1]}" / storage.MANIFEST_FILE)
    parquet.write_bytes(data)
    assert ingestion.pending_validation(flights_config) == DAYS[2:]
    before = _mtimes("validated")
    chunk = ingestion.validate_days(flights_config, DAYS, run_id=RUN)
    assert chunk.resumed == DAYS[:2]
    assert not chunk.failed
    assert _mtimes("validated") == before
    assert [r["ds"] for r in chunk.done] == DAYS
    assert ingestion.pending_validation(flights_config) == []
    assert all(r["quarantined_rows"] > 0 for r in chunk.done)  # the kept days report their outcome as before

    # another run (a person re-running the range) redoes every day
    again = ingestion.validate_days(flights_config, DAYS[:1], run_id="manual__again")
    assert again.resumed == []
    assert [r["ds"] for r in again.done] == DAYS[:1]


def test_a_bad_day_is_refused_and_the_rest_of_its_chunk_is_published(flights_config, state):
    from mlcycle.core import storage
    from mlcycle.stages import ingestion

    for ds in DAYS[:1] + DAYS[2:3]:
        _land(flights_config, ds)
    chunk = ingestion.ingest_days(flights_config, DAYS[:3], run_id=RUN)
    assert [r["ds"] for r in chunk.done] == [DAYS[0], DAYS[2]]
    assert list(chunk.failed) == [DAYS[1]]
    assert storage.list_partitions("raw", "flights") == [DAYS[0], DAYS[2]]
    with pytest.raises(ingestion.ChunkRefused, match=rf"1 of 3 days refused, the others are published: {DAYS[1]}: "
                                                     rf"IngestError: no landed file for flights {DAYS[1]}"):
        chunk.raise_failures()
    lone = ingestion.ingest_days(flights_config, DAYS[1:2], run_id=RUN)
    with pytest.raises(ingestion.ingest.IngestError, match=f"no landed file for flights {DAYS[1]}"):
        lone.raise_failures()  # one day alone: its own error, as before chunks
