"""Issue 21: a pipeline's overview in the Airflow UI, drawn from the session stack's real data.

The session's champion (v1, trained on four January days) monitors two January days and two June days
(the ``monitored`` fixture): June drifts, so the charts carry drift alerts beside the
seeded promotion. In a real browser: the "Pipelines" view lists flights with its state, its overview draws
the three charts with the vendored Vega-Lite in a sandboxed frame, every marker links to its report, and a
click on a marker opens that report in the plugin's frame inside the Airflow UI.
Screenshots go to ``$MLCYCLE_TEST_ARTIFACTS/e2e-ui/`` (``overview.png``).
"""

from __future__ import annotations

import re

import pytest

from e2e.conftest import SUMMER
from e2e.test_ui import ARTIFACTS, page  # noqa: F401  (the logged-in tab fixture)


def _expected_hrefs(stack, monitored) -> dict[tuple[str, str], str]:
    """(kind, day) -> the path of the plugin's page a marker must open."""
    route = "/mlcycle/reports/flights"
    expected = {("promote", stack.january[-1]): f"{route}/gate/v{stack.seeded['version']}"}
    expected.update({("alert", ds): f"{route}/drift/{ds}" for ds, result in monitored.items() if result["drift"]})
    return expected


def test_the_overview_draws_the_pipelines_history_and_links_each_marker(stack, monitored, page):  # noqa: F811
    assert any(r["drift"] for r in monitored.values()), "June should drift against January's champion"
    page.goto(f"{stack.rt.airflow_url}/")
    page.get_by_role("link", name="Pipelines").click()
    page.wait_for_url(re.compile(r".*/plugin/mlcycle-overview.*"))
    listing = page.frame_locator("iframe")
    # the row of flights itself (test_approval's flights_ask and flights_late may be listed beside it)
    row = listing.locator("#pipelines tr").filter(has=listing.get_by_role("link", name="flights", exact=True))
    row.get_by_text("DRIFT").wait_for()  # the last check (June) drifted
    assert SUMMER[-1] in row.inner_text()
    row.get_by_role("link", name="flights", exact=True).click()

    overview = page.frame_locator("iframe")
    overview.locator("#champion", has_text=f"v{stack.seeded['version']}").wait_for()
    charts = overview.frame_locator("iframe#mlcycle-content")
    charts.locator("body[data-ready='1']").wait_for()
    assert charts.locator("svg").count() == 1
    assert charts.locator("#error").inner_text() == ""
    page.wait_for_timeout(500)  # the SVG is drawn; let the last paint land before the screenshot
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    frame = next(f for f in page.frames if f.url.endswith("/charts.html"))
    days = frame.evaluate("() => window.mlcycleView.data('days')")
    by_day = {d["ds"]: d for d in days}
    for ds, result in monitored.items():  # the charts plot what the monitor found, day by day
        assert by_day[ds]["drift_share"] == pytest.approx(result["share"])
        assert by_day[ds]["quality"] == pytest.approx(result["quality"]["roc_auc"])
        assert by_day[ds]["champion_quality"] == pytest.approx(result["reference_quality"]["roc_auc"])
    assert all(by_day[ds]["rows"] > 0 for ds in [*stack.january, *SUMMER])

    markers = frame.evaluate("() => window.mlcycleView.data('events')")
    found = {(m["kind"], m["ds"]): re.sub(r"^https?://[^/]+", "", m["href"]) for m in markers}
    assert found == _expected_hrefs(stack, monitored)

    # a click on the promotion's marker opens the gate report in the plugin's frame, inside the Airflow UI
    charts.locator("path[aria-label*='event: promote;']").first.click()
    overview.locator("#mlcycle-banner", has_text=f"model version {stack.seeded['version']}").wait_for()
    assert page.frame_locator("iframe").locator("#mlcycle-banner").inner_text().startswith("Evidently gate report")
    page.get_by_role("link", name="Dags").first.wait_for()  # still inside the Airflow UI

    # a drift alert's marker, after going back to the overview
    page.go_back()
    charts.locator("body[data-ready='1']").wait_for()
    day = max(ds for kind, ds in found if kind == "alert")
    charts.locator(f"path[aria-label*='event: alert;'][aria-label*='{found[('alert', day)]}']").first.click()
    overview.locator("#mlcycle-banner", has_text=f"Drift report · flights · {day}").wait_for()
