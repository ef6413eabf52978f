"""Fixtures shared by the unit tests: one real day of the flights export, as CSV bytes and as frames; and the
plugin's UI app with a real Airflow JWT and a lake holding a few reports (``test_ui*.py``)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

DAY = "2013-01-02"


@pytest.fixture(scope="session")
def day_frame() -> pd.DataFrame:
    """The upstream export of 2013-01-02 (943 flights), as the producer builds it."""
    from mlcycle.sources import nycflights

    return nycflights.day(DAY)


@pytest.fixture(scope="session")
def day_csv(day_frame: pd.DataFrame) -> bytes:
    """The landed CSV file of 2013-01-02."""
    return day_frame.to_csv(index=False).encode()


# ---- the plugin's UI app -----------------------------------------------------------------------

REPORT_HTML = b"<html><head><title>r</title></head><body><div id='root'>evidently drift</div></body></html>"
GATE_HTML = b"<html><body>evidently gate of v3</body></html>"


@pytest.fixture(scope="module")
def token(airflow_db, tmp_path_factory) -> str:
    """A JWT for 'admin' from Airflow's auth manager, as ``POST /auth/token`` or the login page issues it."""
    import os

    os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", "unit-test-secret-of-a-decent-length-" + "x" * 40)
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = create_auth_manager()
    manager.init()
    return manager.generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))


@pytest.fixture
def client(state):
    """The plugin app mounted at /mlcycle of a parent app, as the Airflow API server mounts it."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from mlcycle.orchestration.ui import URL_PREFIX, LazyApp

    parent = FastAPI()
    parent.mount(URL_PREFIX, LazyApp())
    return TestClient(parent)


@pytest.fixture
def lake(state):
    """One drift report (drifted), one quiet day and one gate report in the lake; Data Docs on disk."""
    from mlcycle import settings
    from mlcycle.core import storage

    drift = f"{settings.lake_uri()}/reports/flights/drift"
    for ds, drifted in (("2013-07-01", True), ("2013-01-04", False)):
        storage.write_bytes_atomic(f"{drift}/ds={ds}/drift_report.html", REPORT_HTML)
        storage.write_bytes_atomic(f"{drift}/ds={ds}/drift_report.json", b'{"share": 0.5}')
        manifest = {"ds": ds, "drift": drifted, "share": 0.5 if drifted else 0.0, "champion": 1,
                    "drifted_columns": ["temp", "dewp"] if drifted else []}
        storage.write_bytes_atomic(f"{drift}/ds={ds}/_manifest.json", json.dumps(manifest).encode())
    storage.write_bytes_atomic(f"{drift}/ds=2013-07-02/drift_report.html", REPORT_HTML)  # unpublished: no manifest
    gate = f"{settings.lake_uri()}/reports/flights/gate/v3"
    storage.write_bytes_atomic(f"{gate}/gate_report.html", GATE_HTML)
    storage.write_bytes_atomic(f"{gate}/gate_report.json", json.dumps({"verdict": {"passed": False, "reasons": [
        "roc_auc: below the champion"]}}).encode())
    docs = settings.gx_runtime_dir() / "data_docs"
    (docs / "validations").mkdir(parents=True)
    (docs / "index.html").write_text(
        '<html><head><link href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css" '
        'rel="stylesheet"><script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
        "<script src='https://cdn.jsdelivr.net/npm/vega@5'></script>"
        '<script src="https://cdn.jsdelivr.net/npm/vega-lite@5"></script>'
        '<script src="https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js"></script>'
        '</head><body><img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=42">'
        '<a href="validations/run.html">run</a></body></html>')
    (docs / "validations" / "run.html").write_text("<html><body>validation result</body></html>")
    (state / "secret.txt").write_text("do not serve")
    (docs / "escape.html").symlink_to(state / "secret.txt")
    return state
