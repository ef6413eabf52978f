"""Issue 21: the overview's data (``core/overview``), the exporter's metrics (``core/prometheus``) and the pages.

A lake written the way the stages write it (manifests of raw, validated and quarantined rows, drift reports
with and without the quality in their manifest, a gate report) and an empty MLflow registry on SQLite (a
real one: no promotion yet). The browser and a real Prometheus are ``tests/e2e/test_overview.py`` and
``tests/e2e/test_metrics.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from mlcycle.core import lake, storage

PAYLOAD = "</script><script>alert(1)</script>"


def _write(uri: str, value: dict) -> None:
    storage.write_bytes_atomic(uri, json.dumps(value).encode())


@pytest.fixture(scope="module")
def registry_uri(tmp_path_factory) -> str:
    """One empty SQLite registry for the module (creating its schema takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def history(state, registry_uri, monkeypatch):
    """Two days of flights: Jan 1 quiet (quality in the report's JSON only, as older reports have it), Jul 1
    drifted (quality in its manifest); a gate report that passed; an empty registry."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry_uri)
    p = "flights"
    for ds, rows, ingest, validate in (("2013-01-01", 900, 10, 40), ("2013-07-01", 1000, 0, 100)):
        _write(f"{lake.partition('raw', p, ds)}/{lake.MANIFEST_FILE}", {"rows": rows})
        _write(f"{lake.partition('validated', p, ds)}/{lake.MANIFEST_FILE}", {"rows": rows - validate})
        for stage, count in (("ingest", ingest), ("validate", validate)):
            if count:
                _write(f"{lake.quarantine(p, ds, stage)}/{lake.MANIFEST_FILE}", {"rows": count})
    old = lake.drift_report(p, "2013-01-01")
    _write(f"{old}/{lake.MANIFEST_FILE}", {"ds": "2013-01-01", "drift": False, "share": 0.0, "drifted_columns": [],
                                           "champion": 1})
    _write(f"{old}/{lake.DRIFT_REPORT}.json", {"verdict": {"quality": {"roc_auc": 0.7, "f1": 0.2},
                                                           "reference_quality": {"roc_auc": 0.72}}})
    _write(f"{lake.drift_report(p, '2013-07-01')}/{lake.MANIFEST_FILE}", {
        "ds": "2013-07-01", "drift": True, "share": 0.6, "drifted_columns": ["temp", "dewp", "humid"], "champion": 1,
        "drift_threshold": 0.5, "primary_metric": "roc_auc", "quality": {"roc_auc": 0.61},
        "reference_quality": {"roc_auc": 0.72}})
    storage.write_bytes_atomic(f"{lake.drift_report(p, '2013-07-01')}/{lake.DRIFT_REPORT}.html", b"<html></html>")
    _write(f"{lake.gate_report(p, 1)}/{lake.GATE_REPORT}.json", {"verdict": {"passed": True, "reasons": []}})
    return p


def test_daily_rows_quarantine_drift_and_quality_per_day(history, flights_config):
    from mlcycle.core import overview

    jan, jul = overview.daily(history, flights_config)
    assert jan == {"ds": "2013-01-01", "rows": 900, "validated_rows": 860, "quarantined_rows": 50,
                   "quarantine_share": pytest.approx(50 / 910), "drift_share": 0.0, "drift": False,
                   "drifted_columns": 0, "drift_threshold": flights_config.monitoring.drift_share, "champion": 1,
                   "quality": 0.7, "champion_quality": 0.72}  # the primary metric, from the report's JSON
    assert (jul["quarantine_share"], jul["drift_threshold"], jul["quality"]) == (0.1, 0.5, 0.61)
    assert jul["drifted_columns"] == 3
    assert overview.pipelines() == ["flights"]
    assert [g["passed"] for g in overview.gate_reports(history)] == [True]


def test_events_without_promotions_are_the_drift_alerts(history):
    from mlcycle.core import overview

    assert overview.events(history) == [{"ds": "2013-07-01", "kind": "alert", "version": 1, "at": "",
                                         "text": "drift on 2013-07-01 (share 0.6)", "link": "drift"}]
    assert overview.champion_card(history) is None  # nothing promoted in this registry


def test_the_exporter_reports_the_newest_day_of_each_figure(history):
    from mlcycle.core.prometheus import collect_all

    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for m in collect_all() for s in m.samples}

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted({"pipeline": "flights", **labels}.items())))]

    assert value("mlcycle_drift_share") == 0.6
    assert value("mlcycle_drift_detected") == 1
    assert value("mlcycle_drifted_columns") == 3
    assert value("mlcycle_quality", metric="roc_auc") == 0.61
    assert value("mlcycle_champion_holdout_quality", metric="roc_auc") == 0.72
    assert value("mlcycle_rows", stage="validated") == 900
    assert value("mlcycle_quarantine_share") == 0.1
    assert value("mlcycle_gate_verdicts_total", verdict="passed") == 1
    assert value("mlcycle_registry_events_total", action="promote") == 0
    assert value("mlcycle_champion_version") == 0
    assert value("mlcycle_source_up", source="lake") == value("mlcycle_source_up", source="registry") == 1
    assert value("mlcycle_day_timestamp_seconds", stage="monitored") == 1372636800  # 2013-07-01T00:00Z


def test_the_pages_list_the_pipelines_and_frame_the_charts(history, client, token):
    login = {"headers": {"Authorization": f"Bearer {token}"}}
    listing = client.get("/mlcycle/", **login)
    assert listing.status_code == 200
    assert "/mlcycle/pipelines/flights" in listing.text
    assert "DRIFT" in listing.text
    page = client.get("/mlcycle/pipelines/flights", **login)
    assert page.status_code == 200
    (script,) = re.findall(r"<script>(.*?)</script>", page.text)  # the page's one script: following a marker
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = page.headers["content-security-policy"]
    assert csp.startswith("default-src 'none';")
    assert f"script-src 'sha256-{digest}'" in csp  # that script alone may run
    assert "<a data-event='0' href='/mlcycle/reports/flights/drift/2013-07-01'>drift report</a>" in page.text
    frame = re.search(r"<iframe id='mlcycle-content'[^>]* sandbox='([^']+)'[^>]* src='([^']+)'", page.text)
    assert frame[1] == "allow-scripts allow-popups"
    charts = client.get(frame[2].replace("&amp;", "&"))
    assert charts.status_code == 200
    assert "sandbox allow-scripts allow-popups;" in charts.headers["content-security-policy"]
    assert "allow-same-origin" not in charts.headers["content-security-policy"]
    spec = json.loads(re.search(r"<script type='application/json' id='spec'>(.*?)</script>", charts.text)[1])
    assert [d["ds"] for d in spec["datasets"]["days"]] == ["2013-01-01", "2013-01-02", "2013-07-01"]
    assert spec["datasets"]["days"][1] == {"ds": "2013-01-02", "gap": True}  # lines break between the two days
    (alert,) = spec["datasets"]["events"]
    assert alert["href"] == "/mlcycle/reports/flights/drift/2013-07-01"  # the link the page's table holds
    assert client.get("/mlcycle/pipelines/nowhere", **login).status_code == 404


def test_data_in_the_charts_cannot_close_their_script():
    from mlcycle.orchestration.ui import overview

    events = [{"ds": "2013-07-01", "kind": "reject", "version": 2, "at": "", "link": "gate", "href": "/x",
               "text": f"reject v2: {PAYLOAD}"}]  # a free-text reason of the promotion history
    html = overview.charts_html("/mlcycle", overview.spec([{"ds": "2013-07-01"}], events, "roc_auc"))
    assert PAYLOAD not in html
    assert html.count("</script>") == 5  # three vendored scripts, the JSON and the drawing script


def test_with_the_registry_down_the_lake_still_shows(history, client, token, monkeypatch):
    """MLflow unreachable: the page says so and still frames the lake's charts; the exporter still reports the
    lake's figures, with ``mlcycle_source_up{source="registry"} 0``."""
    from mlcycle.core.prometheus import collect_all
    from mlcycle.tools.stack import free_port

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    page = client.get("/mlcycle/pipelines/flights", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200
    assert "The registry could not be read" in page.text
    assert "<a data-event='0' href='/mlcycle/reports/flights/drift/2013-07-01'>drift report</a>" in page.text
    up = {s.labels["source"]: s.value for m in collect_all() if m.name == "mlcycle_source_up" for s in m.samples}
    assert up == {"lake": 1, "registry": 0}
    assert any(m.name == "mlcycle_drift_share" and m.samples for m in collect_all())
