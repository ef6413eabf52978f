"""The three readiness modes on the real sensor path on ``file://``: the factory's ``ingest_<p>`` DAG with
``dag.test()``, the sensor deferring to :class:`~mlcycle.orchestration.triggers.LandingFileTrigger`, which
``dag.test`` runs in line as the triggerer would.

Each proof is in the data, not in the clock: a sensor that fired too early would hand ingest a file cut
mid-row, which ingest refuses as truncated, or a partial day. Pipeline ``flights_landing`` is a copy of
``flights.yaml`` (its own Asset names).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import local_state, pipelines_folder
from mlcycle.tools.stack import NotReady, poll_until

pytestmark = pytest.mark.integration
PIPELINE = "flights_landing"
REPO = Path(__file__).resolve().parents[2]
DAY_ROWS = 943  # 2013-01-02, every row kept
WRITER = """
import sys, time
path, source, parts, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
data = open(source, "rb").read()
step = -(-len(data) // parts)
with open(path, "wb") as out:  # in place: the file is there, growing, from the first write on
    for start in range(0, len(data), step):
        out.write(data[start:start + step])  # slices end mid-row
        out.flush()
        time.sleep(pause)
"""


def _logical(ds: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ds).replace(tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def testbed(airflow_db, tmp_path_factory):
    from mlcycle import settings
    from mlcycle.core.config import load_pipeline
    from mlcycle.sources import nycflights

    raw = yaml.safe_load((REPO / "include" / "pipelines" / "flights.yaml").read_text())
    raw["name"] = PIPELINE
    raw["landing"].update(pattern=f"{PIPELINE}/flights_{{ds}}.csv", poke_seconds=1)
    root = tmp_path_factory.mktemp("landing-sensor")
    with pytest.MonkeyPatch.context() as patch:
        local_state(patch, root / "state", pipelines_folder(root, PIPELINE, yaml.safe_dump(raw)))
        config = load_pipeline(PIPELINE)
        day = nycflights.day("2013-01-02").to_csv(index=False).encode()

        def landed(ds: str) -> Path:
            path = Path(settings.landing_uri().removeprefix("file://")) / config.landing_path(ds)
            path.parent.mkdir(parents=True, exist_ok=True)
            return path

        yield SimpleNamespace(config=config, root=root, landed=landed,
                              day=lambda ds: day.replace(b"2013-01-02", ds.encode()))


def _ingest(testbed, ds: str, **landing):
    """``ingest_flights_landing`` for ``ds`` with the given landing settings; the run."""
    from mlcycle.orchestration import factory

    landing = {"timeout_minutes": 5, **landing}  # a broken wait fails the test instead of hanging it
    config = testbed.config.model_copy(update={"landing": testbed.config.landing.model_copy(update=landing)})
    return factory.ingest_dag(config).test(logical_date=_logical(ds))


def _states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _raw_rows(ds: str) -> int:
    from mlcycle.core import lake, storage

    return storage.read_manifest(lake.partition("raw", PIPELINE, ds))["rows"]


def _once_deferred(ds: str, action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` once the run's ``wait_for_file`` has deferred to its trigger (seen in the metadata DB)."""
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session

    def deferred() -> bool:
        with create_session() as session:
            return bool(session.query(TaskInstance).join(DagRun, DagRun.run_id == TaskInstance.run_id).filter(
                TaskInstance.dag_id == f"ingest_{PIPELINE}", DagRun.dag_id == f"ingest_{PIPELINE}",
                DagRun.logical_date == _logical(ds), TaskInstance.task_id == "wait_for_file",
                TaskInstance.next_method == "execute_complete").count())

    def watch() -> None:
        try:
            poll_until(deferred, 300, f"wait_for_file of {ds} to defer", interval=0.3)
        except NotReady:
            return  # the run's assertions fail: the action never happened
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_stable_waits_for_a_producer_writing_in_place_for_more_than_30_s(testbed, tmp_path):
    """The producer writes the day in 32 slices, one every second, in place; the sensor wants 8 s of calm."""
    ds = "2013-02-01"
    path, source = testbed.landed(ds), tmp_path / "day.csv"
    source.write_bytes(testbed.day(ds))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(source), "32", "1.0"])
    try:
        poll_until(lambda: path.exists() and path.stat().st_size > 0, 60, "the first write", interval=0.1)
        run = _ingest(testbed, ds, ready="stable", stable_seconds=8)
    finally:
        assert writer.wait(timeout=300) == 0
    assert run.state == "success", _states(run)
    assert _raw_rows(ds) == DAY_ROWS, "the whole day, not what was written when the sensor first looked"
    assert path.read_bytes() == source.read_bytes()


def test_marker_waits_for_the_marker_not_for_the_file(testbed):
    """The file is there but cut mid-row; once the sensor waits, the producer completes it, then the marker."""
    ds = "2013-02-02"
    path, data = testbed.landed(ds), testbed.day(ds)
    path.write_bytes(data[: len(data) // 2])

    def complete() -> None:
        path.write_bytes(data)
        Path(f"{path}.done").touch()

    watcher = _once_deferred(ds, complete)
    run = _ingest(testbed, ds, ready="marker")
    watcher.join(timeout=5)
    assert run.state == "success", _states(run)
    assert _raw_rows(ds) == DAY_ROWS


def test_exists_takes_the_file_as_soon_as_it_is_there(testbed):
    ds = "2013-02-03"
    path, data = testbed.landed(ds), testbed.day(ds)
    watcher = _once_deferred(ds, lambda: path.write_bytes(data))
    run = _ingest(testbed, ds, ready="exists", stable_seconds=3600)
    watcher.join(timeout=5)
    assert run.state == "success", _states(run)
    assert _raw_rows(ds) == DAY_ROWS


def test_an_old_truncated_file_is_taken_at_once_and_refused_without_retry(testbed):
    """A backfill: the file landed long ago (ready at the first look), but it was cut mid-row."""
    import os

    from mlcycle.core import lake, storage

    ds = "2013-02-04"
    path, data = testbed.landed(ds), testbed.day(ds)[:-25]
    path.write_bytes(data)
    os.utime(path, (1_600_000_000, 1_600_000_000))
    run = _ingest(testbed, ds, ready="stable", stable_seconds=3600)
    assert run.state == "failed"
    (ingest,) = [ti for ti in run.get_task_instances() if ti.task_id == "ingest"]
    assert (ingest.state, ingest.try_number) == ("failed", 1), "bad data is not retried"
    assert _states(run)["wait_for_file"] == "success"
    quarantined = Path(storage.local_path(lake.quarantine(PIPELINE, ds, "file")))
    assert "is truncated" in (quarantined / "reason.json").read_text()
    assert (quarantined / path.name).read_bytes() == data
    assert path.read_bytes() == data
    assert path.stat().st_mtime == 1_600_000_000


def test_no_file_by_the_timeout_fails_naming_the_file(testbed):
    """The factory's ingest DAG with its sensor's timeout cut to 2 s (the config counts in minutes)."""
    from mlcycle.orchestration import factory

    ds = "2013-02-05"
    errors: list[str] = []
    dag = factory.ingest_dag(testbed.config)
    wait = dag.get_task("wait_for_file")
    wait.partial_kwargs.update(timeout=2, on_failure_callback=lambda context: errors.append(str(context["exception"])))
    run = dag.test(logical_date=_logical(ds))
    (sensor,) = [ti for ti in run.get_task_instances() if ti.task_id == "wait_for_file"]
    assert (sensor.state, sensor.try_number) == ("failed", 1), "a timeout is not retried"
    (error,) = errors
    assert f"no file arrived at file://{testbed.landed(ds)}" in error
    assert "landing.pattern" in error
