"""S3 settings from the AWS connection, the landing sensor's trigger per scheme, the drift queue watcher.

No server here: the connection comes from ``AIRFLOW_CONN_AWS_DEFAULT`` and nothing is requested.
"""

from __future__ import annotations

import json

import pytest

ENDPOINT = "http://127.0.0.1:9"


@pytest.fixture
def aws_conn(monkeypatch):
    from mlcycle.core import object_store

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(
        {"conn_type": "aws", "login": "AKIDTEST", "password": "s3cr3t",
         "extra": {"endpoint_url": ENDPOINT, "region_name": "eu-west-1"}}))
    object_store.reset()
    yield
    object_store.reset()


def test_split_and_scheme():
    from mlcycle.core import object_store

    assert object_store.split("s3://lake/raw/flights/ds=2013-01-01") == ("lake", "raw/flights/ds=2013-01-01")
    assert object_store.is_s3("s3://b/k")
    assert not object_store.is_s3("file:///tmp/x")


def test_fsspec_options_come_from_the_connection(aws_conn):
    from mlcycle.core import object_store

    options = object_store.fsspec_options()
    assert (options["key"], options["secret"], options["token"]) == ("AKIDTEST", "s3cr3t", None)
    assert options["client_kwargs"] == {"endpoint_url": ENDPOINT, "region_name": "eu-west-1"}
    assert options["use_listings_cache"] is False


def test_dvc_remote_config_carries_endpoint_and_credentials_only_for_s3(aws_conn):
    from mlcycle.core import object_store

    assert object_store.dvc_remote("/tmp/remote") == {"url": "/tmp/remote"}
    assert object_store.dvc_remote("s3://dvc/remote") == {
        "url": "s3://dvc/remote", "endpointurl": ENDPOINT, "region": "eu-west-1",
        "access_key_id": "AKIDTEST", "secret_access_key": "s3cr3t"}


def test_landing_sensor_defers_with_the_rule_of_its_scheme(aws_conn):
    import importlib

    from mlcycle.orchestration.operators import LandingFileSensor

    s3 = LandingFileSensor(task_id="s3", uri="s3://landing/flights/flights_2013-01-01.csv", poke_interval=7)._trigger()
    classpath, kwargs = s3.serialize()
    module, _, name = classpath.rpartition(".")
    assert getattr(importlib.import_module(module), name) is type(s3), "the triggerer imports it by its classpath"
    assert (kwargs["uri"], kwargs["mode"], kwargs["poke_interval"]) == ("s3://landing/flights/flights_2013-01-01.csv",
                                                                        "exists", 7)
    local = LandingFileSensor(task_id="file", uri="file:///landing/flights_2013-01-01.csv", stable_seconds=9,
                              ready="auto")._trigger().serialize()[1]
    assert (local["mode"], local["stable_seconds"], local["marker_uri"]) == ("stable", 9, None)
    marked = LandingFileSensor(task_id="m", uri="s3://landing/f/x_1.csv", ready="marker", marker="_SUCCESS")
    assert marked._trigger().serialize()[1]["marker_uri"] == "s3://landing/f/_SUCCESS"


def test_drift_asset_has_no_watcher_without_a_queue(monkeypatch):
    from mlcycle.orchestration.assets import pipeline_asset

    monkeypatch.delenv("MLCYCLE_DRIFT_QUEUE_URL", raising=False)
    assert pipeline_asset("drift", "flights").watchers == []


def test_drift_asset_watches_the_pipelines_sqs_queue(monkeypatch):
    from mlcycle.orchestration.assets import pipeline_asset

    monkeypatch.setenv("MLCYCLE_DRIFT_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/drift-{pipeline}")
    monkeypatch.setenv("MLCYCLE_DRIFT_QUEUE_POLL_SECONDS", "5")
    drift = pipeline_asset("drift", "flights")
    (watcher,) = drift.watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "airflow.providers.amazon.aws.triggers.sqs.SqsSensorTrigger"
    assert kwargs["sqs_queue"] == "https://sqs.eu-west-1.amazonaws.com/123456789012/drift-flights"
    assert (kwargs["aws_conn_id"], kwargs["waiter_delay"]) == ("aws_default", 5)
    assert drift == pipeline_asset("drift", "flights")  # the same Asset wherever it is built
    assert pipeline_asset("raw", "flights").watchers == []


def test_landing_sensor_of_a_chunk_waits_for_each_file_deferring_on_the_first_missing(tmp_path):
    from airflow.sdk.exceptions import TaskDeferred

    from mlcycle.orchestration.operators import LandingFileSensor

    files = [tmp_path / f"flights_2013-01-0{i}.csv" for i in (1, 2, 3)]
    files[0].write_text("a\n")
    sensor = LandingFileSensor(task_id="w", uri=[f"file://{f}" for f in files], ready="exists")
    assert not sensor.poke({})
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert deferred.value.trigger.uri == f"file://{files[1]}"
    deadline = deferred.value.kwargs["deadline"]  # one deadline for the whole chunk, kept across deferrals
    files[1].write_text("b\n")
    with pytest.raises(TaskDeferred) as deferred:  # the trigger fired for the second: it waits for the third
        sensor.execute_complete({}, {"status": "success", "look": {}}, deadline=deadline)
    assert (deferred.value.trigger.uri, deferred.value.kwargs["deadline"]) == (f"file://{files[2]}", deadline)
    files[2].write_text("c\n")
    assert sensor.execute_complete({}, {"status": "success", "look": {}}, deadline=deadline) is None
    assert sensor.poke({})
