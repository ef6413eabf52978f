"""The lifecycle end to end on the native production topology, with the chain test of the embedded stack.

The tests of tests/e2e/test_scheduler_chain.py run here unchanged on this module's ``stack`` (the production
topology): July lands on S3, Celery workers ingest, validate, score and monitor it, the monitor raises
drift, and train, evaluate and register run through the scheduler, with artifacts through the MLflow
server and data versions in the DVC remote on S3. Then: logging in goes through FAB, and the plugin app
authenticates through FAB.
"""

from __future__ import annotations

import re

import httpx
import pytest

from e2e.test_scheduler_chain import (  # noqa: F401 -- the fixture and the tests run here, on the topology
    drift_chain,
    test_july_drifts_and_the_drift_asset_retrains_through_the_gate,
    test_predictions_are_made_by_the_champion,
)

pytestmark = pytest.mark.topology


def test_the_data_and_the_artifacts_are_on_s3_and_the_executor_is_celery(stack, drift_chain):  # noqa: F811
    from mlcycle import settings
    from mlcycle.core import registry

    env = stack.rt.airflow_env("airflow-worker")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")
    for uri in (settings.lake_uri(), settings.landing_uri(), settings.dvc_remote_uri()):
        assert uri.startswith("s3://"), uri
    champion = registry.champion("flights")
    run = registry.client().get_run(champion["run_id"])
    assert run.info.artifact_uri.startswith("mlflow-artifacts:"), "artifacts go through the MLflow server"
    keys = [o["Key"] for page in stack.rt.s3().get_paginator("list_objects_v2").paginate(Bucket="mlflow")
            for o in page.get("Contents", [])]
    assert any(k.endswith("training_snapshot.parquet.dvc") for k in keys), "the server wrote the artifacts to S3"
    dvc = [o["Key"] for o in stack.rt.s3().list_objects_v2(Bucket="mlcycle", Prefix="dvc/").get("Contents", [])]
    assert dvc, "DVC pushed the raw partitions to the remote on S3"
    ti_hosts = {ti["hostname"] for r in stack.client.dag_runs("ingest_flights")
                for ti in stack.client.get(f"/dags/ingest_flights/dagRuns/{r['dag_run_id']}/taskInstances")[
                    "task_instances"] if ti["hostname"]}
    assert ti_hosts, "the Celery workers ran the tasks"


def _fab_login(url: str, username: str, password: str) -> httpx.Client:
    """Log in through FAB's login page as a browser does (its CSRF token, then the form)."""
    session = httpx.Client(base_url=url, timeout=30, follow_redirects=True)
    page = session.get("/auth/login/")
    assert page.status_code == 200, page.text[:300]
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    form = {"username": username, "password": password, **({"csrf_token": csrf[1]} if csrf else {})}
    session.post("/auth/login/", data=form)
    return session


def _has_token(session: httpx.Client) -> bool:
    return any(cookie.name == "_token" and cookie.value for cookie in session.cookies.jar)


def test_logging_in_goes_through_fab_and_the_plugin_app_authenticates_through_fab(stack):
    url, t = stack.rt.airflow_url, stack.rt
    assert httpx.get(f"{url}/mlcycle/reports/", timeout=30).status_code in (401, 403)
    refused = httpx.post(f"{url}/auth/token", json={"username": t.username, "password": "wrong"}, timeout=30)
    assert refused.status_code == 401, refused.text

    intruder, person = _fab_login(url, t.username, "wrong"), _fab_login(url, t.username, t.password())
    try:
        assert not _has_token(intruder)
        assert intruder.get("/mlcycle/reports/").status_code in (401, 403)
        assert _has_token(person), "FAB's login sets Airflow's JWT cookie"
        reports = person.get("/mlcycle/reports/")
        assert reports.status_code == 200, reports.text[:300]
        assert "/mlcycle/reports/flights/gate/v" in reports.text
    finally:
        intruder.close()
        person.close()
    token = httpx.post(f"{url}/auth/token", json={"username": t.username, "password": t.password()},
                       timeout=30).json()["access_token"]
    api = httpx.get(f"{url}/mlcycle/reports/", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert api.status_code == 200
