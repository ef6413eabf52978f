"""The demo path on a real ``airflow standalone`` and ``mlflow server``, on free ports.

The scheduler runs ingest_flights for three days; validate_flights must follow through Asset
scheduling alone. Nothing here calls ``dag.test()``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import free_port

pytestmark = pytest.mark.e2e
DAYS = ["2013-03-01", "2013-03-02", "2013-03-03"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from mlcycle import runtime

    home = tmp_path_factory.mktemp("e2e") / "state"
    rt = runtime.Runtime(home=home, airflow_port=free_port(), mlflow_port=free_port(),
                         log_ports=(free_port(), free_port()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLCYCLE_HOME", str(home))
        try:
            runtime.start(rt)
            yield rt
        finally:
            runtime.stop(rt)


def test_scheduler_runs_ingest_then_validate_through_assets(stack):
    from mlcycle import runtime, settings, steps, storage
    from mlcycle.airflow_client import AirflowClient
    from mlcycle.config import load_pipeline
    from mlcycle.sources import nycflights

    assert Path(os.environ["MLCYCLE_HOME"]) == stack.home
    config = load_pipeline("flights")
    for ds in DAYS:
        nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
    client = AirflowClient(stack.airflow_url, runtime.USERNAME, stack.password())
    client.wait_for_dags(["ingest_flights", "validate_flights"])
    client.run_days("ingest_flights", DAYS)

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        ingest = client.dag_runs("ingest_flights")
        validate = client.dag_runs("validate_flights")
        if (len(ingest) == len(DAYS) and all(r["state"] == "success" for r in ingest + validate)
                and storage.list_partitions("validated", "flights") == DAYS):
            break
        assert not any(r["state"] == "failed" for r in ingest + validate), (ingest, validate)
        time.sleep(5)
    else:
        pytest.fail(f"pipeline did not finish: ingest {ingest}, validate {validate}")

    assert {r["logical_date"][:10] for r in ingest} == set(DAYS)
    assert validate, "validate_flights never ran"
    assert {r["run_type"] for r in validate} == {"asset_triggered"}
    assert steps.pending_validation(config) == []
    events = client.get("/assets/events", limit=100)["asset_events"]
    raw_events = [e for e in events if e["uri"].endswith("/raw/flights")]
    assert sorted(e["extra"]["ds"] for e in raw_events) == DAYS
    assert all(e["extra"]["md5"] and e["extra"]["rows"] > 0 for e in raw_events)
