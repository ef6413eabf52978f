"""Issue 21: a real Prometheus (Debian's) scrapes the exporter over the session stack's lake and registry.

The exporter (:func:`mlcycle.tools.observe.serve_exporter`) and Prometheus run on free ports, Prometheus'
data in a temporary folder, with the configuration ``make observe`` writes (the repository's alert rules
included) and a one-second scrape interval. Every query of the "mlcycle pipelines" Grafana dashboard
returns series of this test-sized run, the figures are the monitor's, and the drift alert fires for the
drifted pipeline. (The "Airflow (StatsD)" dashboard needs the statsd_exporter, which Debian does not ship:
its queries are parsed by promtool in tests/compose/test_observability.py.)
"""

from __future__ import annotations

import subprocess

import httpx
import pytest

from compose.test_observability import dashboard_queries
from mlcycle.tools import observe
from mlcycle.tools.stack import NotReady, free_port, poll_until

LIVENESS = 180  # seconds; Prometheus starts and scrapes within seconds here


@pytest.fixture(scope="module")
def prometheus(stack, monitored, tmp_path_factory):
    """The exporter and Prometheus scraping it (and a serving target where nothing listens): its API URL."""
    folder = tmp_path_factory.mktemp("prometheus")
    exporter_port, prometheus_port = free_port(), free_port()
    server = observe.serve_exporter(exporter_port)
    config = observe.write_config(folder, observe.prometheus_config(
        f"127.0.0.1:{exporter_port}", f"127.0.0.1:{free_port()}", interval="1s"))
    log = (folder / "prometheus.log").open("w")
    process = subprocess.Popen(observe.prometheus_command(config, folder / "data", prometheus_port),
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{prometheus_port}/api/v1"
    finally:
        process.terminate()
        process.wait(30)
        server.shutdown()
        log.close()


def _query(api: str, expr: str) -> list[dict]:
    response = httpx.get(f"{api}/query", params={"query": expr}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]["result"]


def _wait(what: str, done) -> object:
    try:
        return poll_until(done, LIVENESS, what, interval=1)
    except NotReady as exc:
        raise AssertionError(f"no progress: {exc}") from exc


def _value(api: str, expr: str) -> float:
    (sample,) = _query(api, expr)
    return float(sample["value"][1])


def test_every_dashboard_query_returns_series_of_the_run(prometheus, stack, monitored):
    def scraped() -> bool:
        try:
            return bool(_query(prometheus, 'up{job="mlcycle"} == 1')) and bool(_query(prometheus, "mlcycle_rows"))
        except httpx.HTTPError:
            return False

    _wait("Prometheus scrapes the exporter", scraped)
    empty = {}
    for key, expr in dashboard_queries().items():
        if key.startswith("mlcycle-pipelines/"):
            expr = expr.replace("$pipeline", "flights")
            if not _query(prometheus, expr):
                empty[key] = expr
    assert not empty, f"dashboard queries without a series: {empty}"

    newest = monitored[max(monitored)]  # the exporter reports the newest monitored day
    assert _value(prometheus, 'mlcycle_drift_share{pipeline="flights"}') == pytest.approx(newest["share"])
    assert _value(prometheus, 'mlcycle_drifted_columns{pipeline="flights"}') == len(newest["drifted_columns"])
    assert _value(prometheus, 'mlcycle_quality{pipeline="flights",metric="roc_auc"}') == pytest.approx(
        newest["quality"]["roc_auc"])
    assert _value(prometheus, 'mlcycle_champion_version{pipeline="flights"}') >= stack.seeded["version"]
    assert _value(prometheus, 'mlcycle_registry_events_total{pipeline="flights",action="promote"}') >= 1
    assert _value(prometheus, 'mlcycle_gate_verdicts_total{pipeline="flights",verdict="passed"}') >= 1
    assert {s["metric"]["source"] for s in _query(prometheus, 'mlcycle_source_up{pipeline="flights"} == 1')} == {
        "lake", "registry"}


def test_the_drift_alert_fires_for_the_drifted_pipeline(prometheus, monitored):
    assert monitored[max(monitored)]["drift"], "the newest monitored day (June) should drift"

    def firing() -> list[dict]:
        alerts = httpx.get(f"{prometheus}/alerts", timeout=10).json()["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "MlcycleDrift" and a["state"] == "firing"]

    (alert,) = _wait("MlcycleDrift fires", firing)
    assert alert["labels"]["pipeline"] == "flights"
    rules = httpx.get(f"{prometheus}/rules", timeout=10).json()["data"]["groups"]
    assert {r["name"] for g in rules for r in g["rules"]} >= {
        "MlcycleDrift", "MlcyclePipelineFailing", "MlcyclePipelineStale"}
