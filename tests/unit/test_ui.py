"""The plugin's FastAPI app, mounted as Airflow mounts it: authentication, reports, Data Docs, safety.

Tokens are real JWTs of Airflow's auth manager (SimpleAuthManager, the embedded runtime's), checked
against the session's metadata DB (revoked tokens); the lake is a real ``file://`` folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

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


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/mlcycle/reports/", "/mlcycle/reports/flights/drift/2013-07-01",
                                  "/mlcycle/reports/flights/gate/v3", "/mlcycle/data-docs/",
                                  "/mlcycle/static/vendor/jquery/jquery.min.js", "/mlcycle/nothing-here"])
def test_an_anonymous_request_is_refused(client, lake, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated: log in to Airflow first"}
    assert "evidently" not in response.text


def test_a_browser_without_a_session_gets_a_login_link(client, lake, token):
    response = client.get("/mlcycle/reports/", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert "/auth/login?next=" in response.text


def test_a_forged_or_foreign_token_is_refused(client, lake, token):
    header, payload, _ = token.split(".")
    for bad in ("not-a-jwt", f"{header}.{payload}.forged-signature"):
        assert client.get("/mlcycle/reports/", headers=_auth(bad)).status_code == 403
        assert client.get("/mlcycle/reports/", cookies={"_token": bad}).status_code == 403


def test_the_ui_session_cookie_or_a_bearer_token_is_accepted(client, lake, token):
    for kwargs in ({"headers": _auth(token)}, {"cookies": {"_token": token}}):
        client.cookies.clear()
        response = client.get("/mlcycle/reports/", **kwargs)
        assert response.status_code == 200, response.text
    index = response.text
    assert index.count("/mlcycle/reports/flights/drift/") == 2  # the unpublished day (no manifest) is not listed
    assert index.index("2013-07-01") < index.index("2013-01-04")  # newest first
    assert "DRIFT" in index
    assert "no drift" in index
    assert "temp, dewp" in index
    assert "50%" in index
    assert "/mlcycle/reports/flights/gate/v3" in index
    assert "roc_auc: below the champion" in index


def test_reports_are_served_from_the_lake_with_a_header(client, lake, token):
    drift = client.get("/mlcycle/reports/flights/drift/2013-07-01", headers=_auth(token))
    assert drift.status_code == 200
    assert "evidently drift" in drift.text
    assert re.search(r"<body><div id=\"mlcycle-banner\".*DRIFT.*</div><div id='root'>", drift.text)
    assert client.get("/mlcycle/reports/flights/drift/2013-07-01/json", headers=_auth(token)).json() == {"share": 0.5}
    gate = client.get("/mlcycle/reports/flights/gate/v3", headers=_auth(token))
    assert gate.status_code == 200
    assert "evidently gate of v3" in gate.text
    for missing in ("/mlcycle/reports/flights/drift/2013-07-02", "/mlcycle/reports/flights/drift/2013-07-09",
                    "/mlcycle/reports/flights/gate/v4", "/mlcycle/reports/other/drift/2013-07-01"):
        assert client.get(missing, headers=_auth(token)).status_code == 404, missing


@pytest.mark.parametrize("path", [
    "/mlcycle/data-docs/../secret.txt", "/mlcycle/data-docs/%2e%2e/secret.txt", "/mlcycle/data-docs/..%2fsecret.txt",
    "/mlcycle/data-docs/validations/..%2f..%2fsecret.txt", "/mlcycle/data-docs/%2Fetc%2Fpasswd",
    "/mlcycle/data-docs//etc/passwd", "/mlcycle/data-docs/..%5csecret.txt", "/mlcycle/data-docs/escape.html",
    "/mlcycle/data-docs/index.html%00.png", "/mlcycle/static/vendor/..%2f..%2fapp.py",
    "/mlcycle/static/vendor/%2e%2e/%2e%2e/app.py", "/mlcycle/reports/..%2f..%2fsecret.txt/drift/2013-07-01",
    "/mlcycle/reports/flights/drift/..%2f..%2f..%2fsecret.txt", "/mlcycle/reports/%2e%2e/gate/v3",
])
def test_no_path_leaves_its_folder(client, lake, token, path):
    response = client.get(path, headers=_auth(token))
    assert response.status_code in (404, 422), (path, response.status_code)
    assert "do not serve" not in response.text
    assert "root:" not in response.text
    assert "import" not in response.text


def test_data_docs_are_served_with_the_cdn_assets_pointed_at_vendored_copies(client, lake, token):
    index = client.get("/mlcycle/data-docs/", headers=_auth(token))
    assert index.status_code == 200
    assert "https://" not in index.text
    assets = re.findall(r"(?:src|href)=[\"'](/mlcycle/static/vendor/[^\"']+)", index.text)
    assert len(assets) == 5
    assert '<img src="/mlcycle/static/gx/logo-long.png">' in index.text  # GX's logo from its package, not S3
    assert client.get("/mlcycle/static/gx/logo-long.png", headers=_auth(token)).headers["content-type"] == "image/png"
    assert client.get("/mlcycle/static/gx/..%2f..%2fview.py", headers=_auth(token)).status_code == 404
    for asset in assets:
        served = client.get(asset, headers=_auth(token))
        assert served.status_code == 200, asset
        assert len(served.content) > 10_000
    assert client.get(assets[0], headers=_auth(token)).headers["content-type"].startswith("text/css")
    page = client.get("/mlcycle/data-docs/validations/run.html", headers=_auth(token))
    assert page.status_code == 200
    assert "validation result" in page.text


def test_every_cdn_asset_of_the_gx_templates_has_a_vendored_copy():
    """Fails when a GX upgrade changes its CDN URLs: vendor the new file (static/vendor/VENDOR.md)."""
    import great_expectations

    from mlcycle.orchestration.ui.assets import CDN_MAP, VENDOR_DIR, rewrite_cdn_urls

    templates = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
    scripts_and_styles = re.compile(r"[\"'](https://[^\"']+\.(?:js|css)|https://cdn\.jsdelivr\.net/npm/[^\"']+)[\"']")
    found = set()
    for template in templates.glob("*.j2"):
        text = template.read_text()
        found |= set(scripts_and_styles.findall(text))
        assert not scripts_and_styles.findall(rewrite_cdn_urls(text, "/v")), template.name
    assert len(found) >= 10
    assert found <= set(CDN_MAP)
    assert all((VENDOR_DIR / path).is_file() for path in CDN_MAP.values())


def test_the_plugin_registers_the_app_and_the_views(monkeypatch):
    import importlib

    import mlcycle.orchestration.plugin

    monkeypatch.setenv("MLFLOW_UI_URL", "http://mlflow.example:5000/")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example/team-a")
    plugin = importlib.reload(mlcycle.orchestration.plugin).MlcyclePlugin
    views = {v["name"]: v for v in plugin.external_views}
    assert views["Drift reports"]["href"] == "/team-a/mlcycle/reports/"
    assert views["Data quality"]["href"] == "/team-a/mlcycle/data-docs/"
    assert views["Model registry"]["href"] == "http://mlflow.example:5000/#/models"
    assert [app["url_prefix"] for app in plugin.fastapi_apps] == ["/mlcycle"]

    from mlcycle.core.config import PipelineConfig, load_pipeline
    from mlcycle.orchestration import links

    monkeypatch.setenv("MLFLOW_UI_URL", "http://m")
    monkeypatch.setattr(PipelineConfig, "model_name", property(lambda self: f"{self.name}-model"))
    urls = links.model_urls(load_pipeline("flights"), 3, "7", "abc")
    assert urls[links.GateReportLink] == (  # reports are filed by pipeline
        "https://airflow.example/team-a/plugin/mlcycle-reports/team-a/mlcycle/reports/flights/gate/v3")
    assert urls[links.ModelVersionLink] == "http://m/#/models/flights-model/versions/3"  # versions by model name
    assert urls[links.MlflowRunLink] == "http://m/#/experiments/7/runs/abc"
    monkeypatch.delenv("MLFLOW_UI_URL")
    monkeypatch.delenv("AIRFLOW__API__BASE_URL")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")  # no UI to link to
    views = importlib.reload(mlcycle.orchestration.plugin).MlcyclePlugin.external_views
    assert "Model registry" not in {v["name"] for v in views}
