"""Issue 21: Prometheus' configuration, alert rules and the Grafana dashboards, checked with Debian's promtool.

``promtool check config`` and ``check rules`` on the repository's files (compose and the embedded
configuration of ``make observe``), ``promtool test rules`` on the alerts (drift, a failing pipeline, a
stale pipeline), and every query of the dashboards parsed by the real PromQL parser (``promtool promql``
is not in Debian's 2.42, so a ``promtool test rules`` run evaluates each expression once). The queries
returning series of a real run is ``tests/e2e/test_metrics.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mlcycle.tools import observe

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent


def _promtool(*args: str, cwd: Path = HERE) -> subprocess.CompletedProcess:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: `make test` installs Debian's prometheus package (make prometheus)")
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def dashboard_queries() -> dict[str, str]:
    """Every PromQL expression of the provisioned dashboards: ``<dashboard>/<panel>/<refId>`` -> expression."""
    found = {}
    for path in sorted(observe.DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                found[f"{path.stem}/{panel['title']}/{target['refId']}"] = target["expr"]
    return found


def test_promtool_checks_the_compose_and_embedded_configurations_and_the_rules(tmp_path):
    assert observe.check() == []
    embedded = observe.write_config(tmp_path, observe.prometheus_config("127.0.0.1:9477", "127.0.0.1:8000"))
    result = _promtool("check", "config", str(embedded))  # with the rule files it names
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_rules_fire_on_drift_a_failing_and_a_stale_pipeline():
    result = _promtool("test", "rules", "prometheus_rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_query_is_valid_promql(tmp_path):
    queries = dashboard_queries()
    assert {"mlcycle-pipelines", "airflow"} == {key.split("/")[0] for key in queries}
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard_query_{i}", "expr": expr.replace("$pipeline", ".*")}
        for i, expr in enumerate(queries.values())]}]}
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(rules))
    result = _promtool("check", "rules", str(tmp_path / "queries.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
