"""The plugin's FastAPI app, mounted as Airflow mounts it: authentication, reports, Data Docs, safety.

Tokens are real JWTs of Airflow's auth manager (SimpleAuthManager, the embedded runtime's), checked
against the session's metadata DB (revoked tokens); the lake is a real ``file://`` folder.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/mlcycle/reports/", "/mlcycle/reports/flights/drift/2013-07-01",
                                  "/mlcycle/reports/flights/gate/v3", "/mlcycle/data-docs/",
                                  "/mlcycle/reports/flights/drift/2013-07-01/json", "/mlcycle/nothing-here"])
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


def test_the_overview_lists_the_quarantine_with_its_reasons(client, state, token, day_csv, flights_config):
    """What ingest refused (a file) and set aside (rows), as the ingest step leaves it in the lake; escaped."""
    from mlcycle import settings
    from mlcycle.core import lake, storage
    from mlcycle.core.ingest import IngestError
    from mlcycle.stages import ingestion

    for ds, data in (("2013-01-02", day_csv[:-30]), ("2013-01-03", day_csv.replace(b"\n", b"\n<b>x</b>,1\n", 1))):
        storage.write_bytes_atomic(lake.landing_file(flights_config.landing_path(ds), settings.landing_uri()),
                                   data.replace(b"2013-01-02", ds.encode()))
        with contextlib.suppress(IngestError):
            ingestion.ingest_day(flights_config, ds)
    page = client.get("/mlcycle/reports/", headers=_auth(token)).text
    assert "Quarantine" in page
    assert "flights_2013-01-02.csv" in page
    assert "is truncated: its last line (944)" in page
    assert "<td>2013-01-03</td><td>malformed</td><td>1 rows</td><td>line 2: 2 fields, the header has 20" in page
    assert "<b>" not in page


def _framed(client, token: str, path: str):
    """The plugin's page at ``path`` and the sandboxed content its frame shows (fetched without a login)."""
    page = client.get(path, headers=_auth(token))
    assert page.status_code == 200, page.text
    src = re.search(r"<iframe id='mlcycle-content'[^>]* sandbox='allow-scripts allow-popups'[^>]* src='([^']+)'",
                    page.text)
    assert src, page.text
    client.cookies.clear()
    return page, client.get(src[1].replace("&amp;", "&"))


def test_reports_are_served_from_the_lake_in_a_sandboxed_frame_under_a_banner(client, lake, token):
    page, drift = _framed(client, token, "/mlcycle/reports/flights/drift/2013-07-01")
    assert re.search(r"<div id='mlcycle-banner'>.*DRIFT.*</div><iframe", page.text)
    assert "evidently drift" not in page.text
    assert drift.status_code == 200
    assert "evidently drift" in drift.text
    assert client.get("/mlcycle/reports/flights/drift/2013-07-01/json", headers=_auth(token)).json() == {"share": 0.5}
    page, gate = _framed(client, token, "/mlcycle/reports/flights/gate/v3")
    assert "model version 3" in page.text
    assert gate.status_code == 200
    assert "evidently gate of v3" in gate.text
    for missing in ("/mlcycle/reports/flights/drift/2013-07-02", "/mlcycle/reports/flights/drift/2013-07-09",
                    "/mlcycle/reports/flights/gate/v4", "/mlcycle/reports/other/drift/2013-07-01",
                    "/mlcycle/reports/flights/drift/2013-07-02/json"):
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
    _, index = _framed(client, token, "/mlcycle/data-docs/")
    assert index.status_code == 200
    assert "https://" not in index.text
    assets = re.findall(r"(?:src|href)=[\"'](/mlcycle/static/vendor/[^\"']+)", index.text)
    assert len(assets) == 5
    assert '<img src="/mlcycle/static/gx/logo-long.png">' in index.text  # GX's logo from its package, not S3
    assert client.get("/mlcycle/static/gx/logo-long.png").headers["content-type"] == "image/png"
    assert client.get("/mlcycle/static/gx/..%2f..%2fview.py").status_code == 404
    for asset in assets:  # public: a sandboxed frame sends no cookie
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 10_000
    assert client.get(assets[0]).headers["content-type"].startswith("text/css")
    _, page = _framed(client, token, "/mlcycle/data-docs/validations/run.html")
    assert page.status_code == 200
    assert "validation result" in page.text
    relative = client.get(str(index.url).rsplit("/", 1)[0] + "/validations/run.html")  # a link between pages
    assert "validation result" in relative.text


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
