"""S3 mode end to end on moto: the same DAG and step code with ``s3://`` landing, lake and DVC remote,
and an MLflow server whose artifacts live on S3.

Pipeline ``flights_s3`` is a copy of ``flights.yaml`` with a five-day window (its own Asset names, so
the session's Airflow DB never sees ``raw.flights`` with a second URI).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import pipelines_folder
from s3.conftest import s3_settings

pytestmark = pytest.mark.integration

PIPELINE = "flights_s3"
DAYS = ["2013-01-09", "2013-01-10", "2013-01-11", "2013-01-12", "2013-01-13"]
REPO = Path(__file__).resolve().parents[2]


def _config_text() -> str:
    raw = yaml.safe_load((REPO / "include" / "pipelines" / "flights.yaml").read_text())
    raw["name"] = PIPELINE
    raw["training"].update(window_days=5, holdout_days=2, estimator="logistic_regression", search={"C": [1.0]})
    return yaml.safe_dump(raw, sort_keys=False)


def _keys(moto, bucket: str, prefix: str) -> list[str]:
    pages = moto.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture(scope="module")
def testbed(moto, mlflow_s3, airflow_db, tmp_path_factory):
    """S3 settings for the module; the MLflow server starts meanwhile and is waited for by ``mlflow``."""
    from mlcycle.core.config import load_pipeline

    root = tmp_path_factory.mktemp("s3-mode")
    pipelines = pipelines_folder(root, PIPELINE, _config_text())
    with pytest.MonkeyPatch.context() as patch:
        s3_settings(patch, root / "state", pipelines)
        patch.delenv("MLFLOW_UI_URL", raising=False)
        yield SimpleNamespace(config=load_pipeline(PIPELINE), state=root / "state", moto=moto, patch=patch)


def _land(config, ds: str) -> str:
    from mlcycle import settings
    from mlcycle.sources import nycflights

    return nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))


@pytest.fixture(scope="module")
def ingested_by_dag(testbed):
    """``ingest_flights_s3`` via ``dag.test()``; the day's file lands on S3 only after the sensor has deferred."""
    from mlcycle.core import storage
    from mlcycle.orchestration import factory

    ds = DAYS[0]
    dag = factory.ingest_dag(testbed.config)
    assert "Waits for `s3://landing/" in dag.doc_md  # the mapped sensor gets each day's URI at run time
    assert not storage.exists(f"s3://landing/{testbed.config.landing_path(ds)}")
    timer = threading.Timer(8, _land, (testbed.config, ds))
    timer.start()
    try:
        run = dag.test(logical_date=dt.datetime.fromisoformat(ds).replace(tzinfo=dt.UTC))
    finally:
        timer.cancel()
    return run


def test_ingest_dag_waits_for_the_s3_key_then_writes_the_lake_on_s3(ingested_by_dag, testbed):
    from mlcycle.core import storage

    states = {ti.task_id: ti.state for ti in ingested_by_dag.get_task_instances()}
    assert ingested_by_dag.state == "success", states
    manifest = storage.read_manifest(f"s3://lake/mlcycle/raw/{PIPELINE}/ds={DAYS[0]}")
    assert manifest["rows"] > 500
    assert {f"mlcycle/raw/{PIPELINE}/ds={DAYS[0]}/{n}" for n in ("data.parquet", "_manifest.json")} <= set(
        _keys(testbed.moto, "lake", f"mlcycle/raw/{PIPELINE}/"))
    md5 = manifest["md5"]
    assert _keys(testbed.moto, "dvc", f"remote/files/md5/{md5[:2]}/{md5[2:]}"), "DVC pushed nothing to s3://dvc"
    assert not (testbed.state / "lake").exists(), "nothing may be written to a local lake in S3 mode"


def _fires_only_after(trigger, step) -> dict:
    """Run ``trigger`` as the triggerer does: no event within 3 s, then ``step`` (in a thread), then its event."""
    import asyncio

    async def scenario():
        first_event = asyncio.ensure_future(anext(trigger.run()))
        done, _ = await asyncio.wait({first_event}, timeout=3)
        assert not done, f"fired too early: {first_event.result().payload}"
        await asyncio.to_thread(step)
        return await asyncio.wait_for(first_event, timeout=300)

    return asyncio.run(scenario()).payload


def test_the_sensors_trigger_fires_only_once_the_key_lands(testbed):
    """``exists``, the default on S3: the trigger the sensor defers with, against S3 on moto."""
    from mlcycle.orchestration.operators import LandingFileSensor

    ds = "2013-01-20"
    sensor = LandingFileSensor(task_id="wait", uri=f"s3://landing/{testbed.config.landing_path(ds)}", poke_interval=1)
    assert sensor.ready_mode == "exists"
    event = _fires_only_after(sensor._trigger(), lambda: _land(testbed.config, ds))
    assert event["status"] == "success"
    assert event["look"]["size"] > 0


def test_with_a_marker_the_trigger_waits_for_the_marker_not_the_key(testbed):
    from mlcycle.core import storage
    from mlcycle.orchestration.operators import LandingFileSensor

    ds = "2013-01-21"
    uri = _land(testbed.config, ds)  # the key is there from the start
    sensor = LandingFileSensor(task_id="wait", uri=uri, poke_interval=1, ready="marker", marker="{file}.done")
    event = _fires_only_after(sensor._trigger(), lambda: storage.write_bytes_atomic(f"{uri}.done", b""))
    assert event["look"]["marker"] is True


def test_a_file_unlike_its_manifest_is_refused_on_s3_and_the_landed_key_kept(testbed):
    """A contract class on S3: the quarantine copies (file, manifest, reason) go to the S3 lake."""
    import json

    from mlcycle.core import lake, storage
    from mlcycle.core.ingest import IngestError
    from mlcycle.stages import ingestion

    ds = "2013-01-22"
    uri = _land(testbed.config, ds)
    storage.write_bytes_atomic(f"{uri}.manifest.json", json.dumps({"rows": 5000}).encode())
    before = testbed.moto.client("s3").head_object(Bucket="landing", Key=uri.removeprefix("s3://landing/"))
    with pytest.raises(IngestError, match="is not the file its manifest .* describes: rows"):
        ingestion.ingest_day(testbed.config, ds)
    quarantine = lake.quarantine(PIPELINE, ds, "file")
    assert "where the manifest says 5000" in json.loads(storage.read_bytes(f"{quarantine}/reason.json"))["reason"]
    name = uri.rsplit("/", 1)[-1]
    assert storage.read_bytes(f"{quarantine}/{name}") == storage.read_bytes(uri)
    assert storage.exists(f"{quarantine}/{name}.manifest.json")
    after = testbed.moto.client("s3").head_object(Bucket="landing", Key=uri.removeprefix("s3://landing/"))
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"]), "landed key untouched"
    assert ds not in storage.list_partitions("raw", PIPELINE)


@pytest.fixture(scope="module")
def validated(testbed, ingested_by_dag):
    """The other days through the plain steps (what the operators call), then GX validation of all."""
    from mlcycle.stages import ingestion

    for ds in DAYS[1:]:
        _land(testbed.config, ds)
        ingestion.ingest_day(testbed.config, ds)
    return {ds: ingestion.validate_day(testbed.config, ds) for ds in DAYS}


def test_validation_publishes_and_quarantines_on_s3(validated, testbed):
    from mlcycle.core import lake, storage
    from mlcycle.stages import ingestion

    for ds, result in validated.items():
        raw = storage.read_manifest(lake.partition("raw", PIPELINE, ds))
        assert result["uri"] == f"s3://lake/mlcycle/validated/{PIPELINE}/ds={ds}"
        assert result["raw_md5"] == raw["md5"]
        assert raw["rows"] == result["rows"] + result["quarantined_rows"]
        if result["quarantined_rows"]:
            assert storage.read_partition(result["quarantine_uri"])["is_late"].isna().all()
    assert storage.list_partitions("validated", PIPELINE) == DAYS
    assert ingestion.pending_validation(testbed.config) == []
    assert _keys(testbed.moto, "lake", f"mlcycle/quarantine/{PIPELINE}/")


def test_dvc_pushes_to_s3_and_a_fresh_workspace_pulls_back_by_md5(validated, testbed, tmp_path):
    from mlcycle import settings
    from mlcycle.core import lake, storage, versioning

    ds = DAYS[1]
    relative = f"raw/{PIPELINE}/ds={ds}/data.parquet"
    md5 = storage.read_manifest(lake.partition("raw", PIPELINE, ds))["md5"]
    fresh = tmp_path / "dvc"  # another worker's workspace: nothing cached, only the pointer
    (fresh / relative).parent.mkdir(parents=True)
    (fresh / f"{relative}.dvc").write_text((settings.dvc_repo_dir() / f"{relative}.dvc").read_text())
    data = versioning.load_version(relative, md5, root=fresh)
    assert hashlib.md5(data).hexdigest() == md5
    assert data == storage.read_bytes(lake.partition("raw", PIPELINE, ds) + "/data.parquet")
    assert "secret" not in (fresh / ".dvc" / "config").read_text(), "credentials stay in memory"


@pytest.fixture(scope="module")
def registered(validated, testbed, mlflow_s3):
    """train -> evaluate -> register through the plain model steps, with MLflow artifacts on S3."""
    from mlcycle.stages import modelling

    mlflow_s3.wait()
    testbed.patch.setenv("MLFLOW_TRACKING_URI", mlflow_s3.url)
    trained = modelling.train_model(testbed.config, end=DAYS[-1], cause={"type": "test", "mode": "s3"})
    evaluated = modelling.evaluate_model(testbed.config, trained["version"])
    registered = modelling.register_model(testbed.config, trained["version"])
    return SimpleNamespace(trained=trained, evaluated=evaluated, registered=registered)


def test_train_evaluate_register_with_s3_lake_and_mlflow_artifacts_on_s3(registered, testbed):
    from mlcycle.core import registry, storage

    version = registered.trained["version"]
    assert registered.evaluated["passed"], registered.evaluated["reasons"]
    assert registered.registered["champion"] == version
    tags = registry.version_info(PIPELINE, version)["tags"]
    snapshot = tags["data.snapshot_uri"]
    assert snapshot == f"s3://lake/mlcycle/training/{PIPELINE}/md5={tags['data.md5']}"
    assert storage.read_manifest(snapshot)["rows"] == int(tags["data.rows"])
    run = f"artifacts/{registered.trained['experiment_id']}/{registered.trained['run_id']}/artifacts"
    artifacts = _keys(testbed.moto, "mlflow", "artifacts/")
    assert any(key.endswith("/MLmodel") for key in artifacts), artifacts  # MLflow 3: .../models/m-<id>/...
    assert f"{run}/evaluation/gate_report.html" in artifacts
    assert f"{run}/data/training_snapshot.parquet.dvc" in artifacts


def test_champion_scores_and_monitors_a_day_with_outputs_on_s3(registered, testbed):
    """Predictions and the drift report go to the S3 lake; the reference snapshot comes back from DVC on S3."""
    from mlcycle.core import storage
    from mlcycle.stages import scoring

    ds = DAYS[-1]
    scored = scoring.score_day(testbed.config, ds)
    assert scored["uri"] == f"s3://lake/mlcycle/predictions/{PIPELINE}/ds={ds}"
    assert storage.read_manifest(scored["uri"])["rows"] == scored["rows"] > 0
    monitored = scoring.monitor_day(testbed.config, ds)
    assert monitored["report_uri"].startswith(f"s3://lake/mlcycle/reports/{PIPELINE}/drift/")
    assert _keys(testbed.moto, "lake", monitored["report_uri"].removeprefix("s3://lake/"))
