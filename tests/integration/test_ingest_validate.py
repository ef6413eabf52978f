"""ingest_flights and validate_flights with ``dag.test()`` on real 2013 days: real DVC, real GX."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
DAYS = ["2013-01-02", "2013-01-03"]


def _logical(ds: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ds).replace(tzinfo=dt.UTC)


@pytest.fixture
def dags(state, flights_config, airflow_db, monkeypatch):
    """The DAGs over an emptied lake at one URI for the whole session.

    Asset URIs come from the lake URI, and Airflow deactivates an Asset whose name comes back with
    another URI, so every test of this module shares one lake location and starts it empty.
    """
    import shutil

    from conftest import SESSION_LAKE
    from mlcycle.orchestration.factory import ingest_dag, validate_dag

    shutil.rmtree(SESSION_LAKE.removeprefix("file://"), ignore_errors=True)
    monkeypatch.setenv("MLCYCLE_LAKE_URI", SESSION_LAKE)
    return ingest_dag(flights_config), validate_dag(flights_config)


def _aged(path: str | Path) -> None:
    """Date a landed file an hour back: landed before the run (a backfill), ready at the sensor's first look."""
    import os
    import time

    os.utime(str(path).removeprefix("file://"), (time.time() - 3600,) * 2)


def _land(config, ds: str) -> str:
    from mlcycle import settings
    from mlcycle.sources import nycflights

    uri = nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
    _aged(uri)
    return uri


def _task_states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_days_flow_from_landing_to_validated(dags, flights_config, state):
    from mlcycle.core import lake, quality, storage

    ingest, validate = dags
    for ds in DAYS:
        _land(flights_config, ds)
        run = ingest.test(logical_date=_logical(ds))
        assert run.state == "success", _task_states(run)
        run = validate.test(run_conf={"ds": ds})
        assert run.state == "success", _task_states(run)

    for ds in DAYS:
        raw = storage.read_manifest(lake.partition("raw", "flights", ds))
        validated = storage.read_manifest(lake.partition("validated", "flights", ds))
        quarantined = storage.read_partition(lake.quarantine('flights', ds, 'validate'))
        assert raw["rows"] == validated["rows"] + len(quarantined)
        assert validated["raw_md5"] == raw["md5"]
        # cancelled flights have no label: they are quarantined, with the expectation they failed
        assert quarantined["is_late"].isna().all()
        assert (quarantined["_quarantine_reason"] == "expect_column_values_to_not_be_null(is_late)").all()
        pointer = yaml.safe_load((state / "dvc" / "raw" / "flights" / f"ds={ds}" / "data.parquet.dvc").read_text())
        assert pointer["outs"][0]["md5"] == raw["md5"]
    assert quality.data_docs_index().exists()
    assert list((state / "dvc-remote" / "files" / "md5").rglob("*")), "DVC pushed nothing to its remote"


def test_rerunning_a_day_replaces_its_partition(dags, flights_config, state):
    from mlcycle.core import lake, storage

    ingest, validate = dags
    ds = "2013-01-04"  # a date no other test runs: dag.test() reuses a DagRun of the same logical date
    _land(flights_config, ds)
    md5s = []
    for _ in range(2):
        assert ingest.test(logical_date=_logical(ds)).state == "success"
        assert validate.test(run_conf={"ds": ds}).state == "success"
        md5s.append(storage.read_manifest(lake.partition("raw", "flights", ds))["md5"])
    assert md5s[0] == md5s[1], "identical input must give the identical DVC md5"
    partition = Path(storage.local_path(lake.partition("raw", "flights", ds)))
    assert sorted(p.name for p in partition.iterdir()) == ["_manifest.json", "data.parquet"]
    assert storage.list_partitions("validated", "flights") == [ds]


def test_a_bad_file_fails_at_once_and_is_kept(dags, flights_config, state):
    from mlcycle import settings
    from mlcycle.core import lake, storage

    ingest, _ = dags
    ds = "2013-01-05"
    landed = Path(storage.local_path(f"{settings.landing_uri()}/{flights_config.landing_path(ds)}"))
    landed.parent.mkdir(parents=True)
    landed.write_bytes(b"")
    _aged(landed)
    run = ingest.test(logical_date=_logical(ds))
    assert run.state == "failed"
    ti = next(ti for ti in run.get_task_instances() if ti.task_id == "ingest")
    assert ti.state == "failed"
    assert ti.try_number == 1, "bad data must not be retried"
    assert landed.exists()
    kept = Path(storage.local_path(lake.partition("quarantine", "flights", ds))) / "file"
    assert "is empty" in (kept / "reason.json").read_text()
    assert not storage.list_partitions("raw", "flights")


def test_validate_picks_up_partitions_whose_events_were_missed(dags, flights_config, state):
    """With no Param and no triggering event, validate reconciles against the lake."""
    from mlcycle.core import storage
    from mlcycle.stages import ingestion

    _, validate = dags
    for ds in DAYS:
        _land(flights_config, ds)
        ingestion.ingest_day(flights_config, ds)
    assert ingestion.pending_validation(flights_config) == DAYS
    assert validate.test().state == "success"
    assert storage.list_partitions("validated", "flights") == DAYS
    assert ingestion.pending_validation(flights_config) == []


def test_a_date_range_from_the_trigger_form_ingests_every_day(dags, flights_config, state):
    """The From / To Params backfill a range in one run, one mapped wait + ingest per chunk of days (Param
    chunk_days), one raw event per chunk naming its days."""
    from mlcycle.core import lake, storage

    ingest, _ = dags
    days = ["2013-05-01", "2013-05-02", "2013-05-03"]
    for ds in days:
        _land(flights_config, ds)
    run = ingest.test(logical_date=_logical("2013-06-30"), run_conf={"from_date": days[0], "to_date": days[-1],
                                                                     "chunk_days": 2})
    assert run.state == "success", _task_states(run)
    ingested = sorted((ti.map_index, ti.state) for ti in run.get_task_instances() if ti.task_id == "ingest")
    assert ingested == [(0, "success"), (1, "success")]
    assert storage.list_partitions("raw", "flights") == days
    assert [storage.read_manifest(lake.partition("raw", "flights", d))["run"] for d in days] == [run.run_id] * 3
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        extras = [e.extra for e in session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id)]
    assert sorted(e.get("days") or [e["ds"]] for e in extras) == [days[:2], days[2:]]


def test_a_reversed_or_too_long_range_is_refused(dags, flights_config, state):
    ingest, _ = dags
    run = ingest.test(logical_date=_logical("2013-06-30"), run_conf={"from_date": "2013-05-03",
                                                                     "to_date": "2013-05-01"})
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["dates"] == "failed"
