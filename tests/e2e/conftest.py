"""The embedded stack shared by the end-to-end tests: the supervised PostgreSQL, MLflow and Airflow
components on free ports, in a temporary state folder, with January validated and a champion trained on it.
MLflow runs behind its basic-auth app (``MLCYCLE_MLFLOW_AUTH=1`` mode): the scheduler's tasks and this
process write as the pipeline's service account.

Starting the stack takes a minute or two here, so every module in ``tests/e2e`` shares it. The
pipeline is ``flights`` with a test-sized window (four days, one held out), a one-point search and a
one-minute cooldown, from a pipelines folder of this session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from conftest import local_state, pipelines_folder
from mlcycle.tools.stack import free_port

REPO = Path(__file__).resolve().parents[2]
JANUARY = ["2013-01-01", "2013-01-02", "2013-01-03", "2013-01-04"]
# Airflow waits minutes before it treats a dead scheduler's or triggerer's work as orphaned: seconds here
FAST_RECOVERY = {
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "40",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "5",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "20",
}


def _e2e_config() -> str:
    raw = yaml.safe_load((REPO / "include" / "pipelines" / "flights.yaml").read_text())
    raw["training"].update(window_days=4, holdout_days=1, estimator="logistic_regression", search={"C": [1.0]})
    raw["evaluation"] = {"thresholds": {"roc_auc": 0.55}, "max_regression": 0.02}
    raw["monitoring"].update(cooldown_minutes=1, retrain_cron=None)
    return yaml.safe_dump(raw, sort_keys=False)


def seed_january(config, services_up: Callable[[], None], reason: str) -> dict[str, Any]:
    """January landed, ingested and validated while the services start; once ``services_up()`` returns, a
    champion trained on it, gated and registered. Its training result."""
    from mlcycle import settings
    from mlcycle.sources import nycflights
    from mlcycle.stages import ingestion, modelling

    for ds in JANUARY:
        nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
        ingestion.ingest_day(config, ds)
        ingestion.validate_day(config, ds)
    services_up()
    seeded = modelling.train_model(config, JANUARY[-1], cause={"type": "manual", "reason": reason})
    modelling.evaluate_model(config, seeded["version"])
    modelling.register_model(config, seeded["version"])
    return seeded


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The embedded stack on free ports, with January validated and a champion trained on it."""
    from mlcycle.core.config import load_pipeline
    from mlcycle.tools import runtime
    from mlcycle.tools.airflow_client import AirflowClient

    root = tmp_path_factory.mktemp("e2e")
    pipelines = pipelines_folder(root, "flights", _e2e_config())
    rt = runtime.Runtime(home=root / "state", airflow_port=free_port(), mlflow_port=free_port(),
                         config=FAST_RECOVERY, mlflow_auth=True)
    with pytest.MonkeyPatch.context() as patch:
        local_state(patch, rt.home, pipelines)
        for name, value in rt.client_env().items():  # the URL and the service account
            patch.setenv(name, value)
        config = load_pipeline("flights")
        try:
            runtime.launch(rt)  # the services start while January is ingested and validated
            seeded = seed_january(config, lambda: runtime.wait_healthy(rt), "e2e seed")
            client = AirflowClient(rt.airflow_url, runtime.USERNAME, rt.password())
            yield SimpleNamespace(rt=rt, client=client, config=config, seeded=seeded, january=JANUARY)
        finally:
            runtime.stop(rt)


SUMMER = ["2013-06-10", "2013-06-11"]  # not test_scheduler_chain's July days, nor in its training windows


@pytest.fixture(scope="session")
def monitored(stack):
    """Drift reports of the last two January days and of two June days (landed, ingested and validated here,
    without the scheduler) by the session's champion: June drifts. The overview and the metrics tests read them."""
    from mlcycle import settings
    from mlcycle.sources import nycflights
    from mlcycle.stages import ingestion, scoring

    config = stack.config
    for ds in SUMMER:
        nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
        ingestion.ingest_day(config, ds)
        ingestion.validate_day(config, ds)
    return {ds: scoring.monitor_day(config, ds) for ds in [*stack.january[-2:], *SUMMER]}


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, driven by Playwright: one per browser-test module."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()
