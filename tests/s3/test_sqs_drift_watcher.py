"""Queue-driven drift alerts with a real triggerer: a message on SQS (moto) emits ``drift.flights``.

The embedded Airflow (scheduler, DAG processor, triggerer, API server; no MLflow) on free ports, with
``MLCYCLE_DRIFT_QUEUE_URL`` and the ``aws_default`` connection in its environment. Airflow runs an
Asset's watchers only while an active DAG schedules on that Asset: here ``train_flights``.
"""

from __future__ import annotations

import json

import pytest

from conftest import local_state
from mlcycle.tools import stack

pytestmark = pytest.mark.e2e
DRIFT = "drift.flights"


@pytest.fixture(scope="module")
def airflow(moto, tmp_path_factory):
    """The embedded Airflow alone: MLflow serves nothing this test needs."""
    from mlcycle.tools import runtime

    queue = moto.client("sqs").create_queue(QueueName="mlcycle-drift-flights")["QueueUrl"]
    home = tmp_path_factory.mktemp("sqs") / "state"
    rt = runtime.Runtime(home=home, airflow_port=stack.free_port(), mlflow_port=stack.free_port(), with_mlflow=False)
    with pytest.MonkeyPatch.context() as patch:
        local_state(patch, home)
        patch.setenv("MLCYCLE_DRIFT_QUEUE_URL", queue.replace("flights", "{pipeline}"))
        patch.setenv("MLCYCLE_DRIFT_QUEUE_POLL_SECONDS", "2")
        try:
            runtime.start(rt)
            yield rt, queue
        finally:
            runtime.stop(rt)


def test_a_message_on_the_drift_queue_emits_the_drift_asset_and_triggers_retraining(airflow, moto):
    from mlcycle.tools import runtime
    from mlcycle.tools.airflow_client import AirflowClient

    rt, queue = airflow
    client = AirflowClient(rt.airflow_url, runtime.USERNAME, rt.password())
    client.wait_for_dags(["train_flights"])
    (asset,) = [a for a in client.get("/assets", limit=100)["assets"] if a["name"] == DRIFT]
    assert "train_flights" in {d["dag_id"] for d in asset["scheduled_dags"]}, f"train_flights must schedule on {DRIFT}"
    body = json.dumps({"pipeline": "flights", "source": "external-monitor", "drifted_columns": ["dep_delay"]})
    moto.client("sqs").send_message(QueueUrl=queue, MessageBody=body)

    def events_and_runs() -> tuple[list, list]:
        events = [e for e in client.get("/assets/events", limit=100)["asset_events"] if e.get("name") == DRIFT]
        runs = [r for r in client.dag_runs("train_flights") if r["run_type"] == "asset_triggered"]
        return (events, runs) if events and runs else None

    try:  # a liveness bound, not a speed check
        events, runs = stack.poll_until(events_and_runs, 600, "drift event and training", interval=3)
    except stack.NotReady:
        events, runs = [], []
    (asset,) = [a for a in client.get("/assets", limit=100)["assets"] if a["name"] == DRIFT]
    assert "drift_queue_flights" in {w["name"] for w in asset["watchers"]}, asset
    assert events, f"no {DRIFT} event within 600 s; triggerer log: {rt.home / 'logs' / 'triggerer.log'}"
    (event,) = events
    assert event["extra"]["from_trigger"] is True
    assert "external-monitor" in json.dumps(event["extra"]["payload"]), event  # the message body
    assert runs, "train_flights got no asset-triggered run from the drift event"
    attributes = moto.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0", "the watcher deletes what it consumed"
