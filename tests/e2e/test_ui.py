"""The Airflow UI in a real browser (Playwright driving Debian's chromium) against the session's stack.

A person's path through the UI: log in on Airflow's login page, open ``train_flights``, have a bad
Param refused by the trigger form, trigger it through the form with non-default Params, see the run
succeed, follow the ``evaluate`` task's "Evidently report" extra link to the gate report rendered
inside Airflow by the mlcycle plugin (in a sandboxed frame of the plugin's page), and open the
"Drift reports" and "Data quality" views. The plugin refuses anonymous requests. Screenshots go to
``$MLCYCLE_TEST_ARTIFACTS`` (default ``<repo>/.test-artifacts/``), ``e2e-ui/``.

Waits are liveness bounds only: each polls until the state is reached and fails only when nothing
happens for far longer than it ever takes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlcycle.tools.stack import NotReady, poll_until

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MLCYCLE_TEST_ARTIFACTS", REPO / ".test-artifacts")) / "e2e-ui"
ARTIFACTS.mkdir(parents=True, exist_ok=True)
LIVENESS = 900  # seconds; a manual training on four January days takes well under a minute here
UI_WAIT = 60_000  # milliseconds, for the browser to show what the server already has


def _wait(what: str, done: Callable[[], Any], timeout: float = LIVENESS) -> Any:
    try:
        return poll_until(done, timeout, what, interval=3)
    except NotReady as exc:
        raise AssertionError(f"no progress: {exc}") from exc


@pytest.fixture(scope="module")
def page(stack, browser):
    """A browser tab logged in through Airflow's login page."""
    from mlcycle.tools import runtime

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_WAIT)
    page = context.new_page()
    page.goto(f"{stack.rt.airflow_url}/")
    page.wait_for_url(re.compile(r".*/auth/login.*"))  # an anonymous visitor is sent to the login page
    page.get_by_label("Username").fill(runtime.USERNAME)
    page.get_by_label("Password").fill(stack.rt.password())
    _shot(page, "01-login")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Dags").first.wait_for()
    _shot(page, "02-home")
    yield page
    context.close()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_an_anonymous_request_to_the_plugin_is_refused(stack):
    url = stack.rt.airflow_url
    for path in ("/mlcycle/reports/", "/mlcycle/reports/flights/gate/v1", "/mlcycle/data-docs/"):
        response = httpx.get(f"{url}{path}", timeout=30)
        assert response.status_code in (401, 403), (path, response.status_code)
    from mlcycle.tools import runtime

    token = httpx.post(f"{url}/auth/token", json={"username": runtime.USERNAME, "password": stack.rt.password()},
                       timeout=30).json()["access_token"]
    response = httpx.get(f"{url}/mlcycle/reports/", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200
    assert "/mlcycle/reports/flights/gate/v1" in response.text  # the seeded champion's gate report


def _open_trigger_form(page, airflow_url: str):
    page.goto(f"{airflow_url}/dags/train_flights")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.locator("#element_reason").wait_for()
    return dialog


def test_a_bad_param_is_refused_by_the_trigger_form(stack, page):
    runs = len(stack.client.dag_runs("train_flights"))
    dialog = _open_trigger_form(page, stack.rt.airflow_url)
    dialog.locator("#element_reason").fill("e2e: a window below the minimum")
    # the number field clamps what is typed into it; the form's JSON editor takes any value
    dialog.get_by_role("button", name=re.compile("Advanced Options", re.I)).click()
    dialog.locator(".monaco-editor .view-lines").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text('{"window_end": "2013-01-04", "window_days": 1, "estimator": null, "reason": "e2e"}')
    dialog.get_by_test_id("trigger-dag-submit").click()
    refusal = dialog.get_by_text(re.compile(r"Invalid input for param window_days: 1 is less than the minimum of \d+"))
    refusal.wait_for()
    _shot(page, "03-bad-param-refused")
    assert len(stack.client.dag_runs("train_flights")) == runs
    page.keyboard.press("Escape")


def test_trigger_train_from_the_form_and_follow_the_evidently_link_into_airflow(stack, page):
    client, url = stack.client, stack.rt.airflow_url
    dialog = _open_trigger_form(page, url)
    dialog.locator("#element_window_end").fill("2013-01-04")
    dialog.locator("input[name=element_window_days]").fill("3")  # not the config's 4
    dialog.locator("#element_reason").fill("e2e: retrain from the browser")
    dialog.get_by_text(f"config default ({stack.config.training.estimator})").wait_for()  # not "null"
    _shot(page, "04-trigger-form")
    with page.expect_response(lambda r: r.url.endswith("/dagRuns") and r.request.method == "POST") as created:
        dialog.get_by_test_id("trigger-dag-submit").click()
    assert created.value.status == 200, created.value.text()
    run = created.value.json()
    assert run["conf"] == {"window_end": "2013-01-04", "window_days": 3, "estimator": None,
                           "reason": "e2e: retrain from the browser"}
    run_id = run["dag_run_id"]

    state = _wait(f"train_flights {run_id} finishes", lambda: (
        (s := client.get(f"/dags/train_flights/dagRuns/{run_id}")["state"]) in ("success", "failed") and s))
    assert state == "success"
    page.goto(f"{url}/dags/train_flights/runs/{run_id}")
    page.get_by_text("success").first.wait_for()
    _shot(page, "05-train-run-succeeded")
    trained = client.get(f"/dags/train_flights/dagRuns/{run_id}/taskInstances/train/xcomEntries/return_value")
    version = trained["value"]["version"]

    # evaluate_flights runs on the candidate.flights event of this run
    def evaluate_run() -> dict[str, Any] | None:
        events = client.get("/assets/events", source_dag_id="train_flights", source_run_id=run_id)["asset_events"]
        runs = [r for e in events for r in e["created_dagruns"] if r["dag_id"] == "evaluate_flights"]
        return runs[0] if runs and runs[0]["state"] in ("success", "failed") else None

    evaluate = _wait(f"evaluate_flights runs on the candidate of {run_id}", evaluate_run)
    assert evaluate["state"] == "success"
    page.goto(f"{url}/dags/evaluate_flights/runs/{evaluate['run_id']}/tasks/evaluate")
    page.get_by_text("Details", exact=True).click()  # the task instance tab with the extra links
    link = page.get_by_role("link", name="Evidently report")
    link.wait_for()
    _shot(page, "06-evaluate-extra-links")
    assert link.get_attribute("href") == f"{url}/plugin/mlcycle-reports/mlcycle/reports/flights/gate/v{version}"
    link.click()

    page.wait_for_url(re.compile(rf".*/plugin/mlcycle-reports/mlcycle/reports/flights/gate/v{version}$"))
    view = page.frame_locator("iframe")  # the plugin's page, in the Airflow UI's frame
    banner = view.locator("#mlcycle-banner")
    banner.wait_for()
    assert f"model version {version}" in banner.inner_text()
    report = view.frame_locator("iframe#mlcycle-content")  # the report itself, sandboxed
    report.get_by_text("RocAuc metric (current)").first.wait_for()  # Evidently's own rendering, not just the file
    page.get_by_role("link", name="Dags").first.wait_for()  # still inside the Airflow UI
    _shot(page, "07-evidently-report-in-airflow")


def test_the_drift_reports_and_data_quality_views(stack, page):
    page.goto(f"{stack.rt.airflow_url}/")
    page.get_by_role("link", name="Drift reports").click()
    page.wait_for_url(re.compile(r".*/plugin/mlcycle-reports.*"))
    reports = page.frame_locator("iframe")
    reports.get_by_role("heading", name="flights", exact=True).wait_for()
    reports.get_by_role("link", name="v1", exact=True).wait_for()  # the seeded champion's gate report
    _shot(page, "08-drift-reports-view")
    days = reports.get_by_role("link", name=re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    if days.count():  # the monitor published drift reports in this session (test_scheduler_chain's July)
        day = days.first.inner_text()
        days.first.click()
        reports.locator("#mlcycle-banner", has_text=day).wait_for()
        # Evidently's rendering of the report, in the sandboxed frame under the banner
        reports.frame_locator("iframe#mlcycle-content").get_by_text("Dataset Drift").first.wait_for()
        page.wait_for_url(re.compile(rf".*/plugin/mlcycle-reports/mlcycle/reports/flights/drift/{day}$"))
        _shot(page, "08b-drift-report")

    page.get_by_role("link", name="Data quality").click()
    page.wait_for_url(re.compile(r".*/plugin/mlcycle-data-quality.*"))
    docs = page.frame_locator("iframe").frame_locator("iframe#mlcycle-content")
    # the index table is drawn by bootstrap-table: rows appear only if the vendored scripts loaded
    docs.locator("tbody tr", has_text="flights-2013-01-04").first.wait_for()
    styled = docs.locator("body").evaluate("b => getComputedStyle(b).fontFamily")
    assert "Segoe UI" in styled, styled  # Bootstrap's font stack: the vendored stylesheet applied
    _shot(page, "09-data-quality-view")
