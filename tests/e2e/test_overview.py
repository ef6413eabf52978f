"""Issue 21: a pipeline's overview in the Airflow UI, drawn from the session stack's real data.

The session's champion (v1, trained on four January days) monitors two January days and two July days
that this module lands, ingests and validates: July drifts, so the charts carry drift alerts beside the
seeded promotion. In a real browser: the "Pipelines" view lists flights with its state, its overview draws
the three charts with the vendored Vega-Lite in a sandboxed frame, every marker links to its report, and a
click on a marker opens that report in a new tab (the frame may open popups that leave its sandbox).
Screenshots go to ``$MLCYCLE_TEST_ARTIFACTS/e2e-ui/`` (``overview.png``).
"""

from __future__ import annotations

import re

import pytest

from e2e.test_ui import ARTIFACTS, page  # noqa: F401  (the logged-in tab fixture)

JULY = ["2013-07-01", "2013-07-02"]


@pytest.fixture(scope="module")
def monitored(stack):
    """Drift reports of the last two January days and of two July days, by the session's champion."""
    from mlcycle import settings
    from mlcycle.sources import nycflights
    from mlcycle.stages import ingestion, scoring

    config = stack.config
    for ds in JULY:
        nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
        ingestion.ingest_day(config, ds)
        ingestion.validate_day(config, ds)
    return {ds: scoring.monitor_day(config, ds) for ds in [*stack.january[-2:], *JULY]}


def _expected_hrefs(stack, monitored) -> dict[tuple[str, str], str]:
    """(kind, day) -> the path of the Airflow page a marker must open."""
    route = "/plugin/mlcycle-reports/mlcycle/reports/flights"
    expected = {("promote", stack.january[-1]): f"{route}/gate/v{stack.seeded['version']}"}
    expected.update({("alert", ds): f"{route}/drift/{ds}" for ds, result in monitored.items() if result["drift"]})
    return expected


def test_the_overview_draws_the_pipelines_history_and_links_each_marker(stack, monitored, page):  # noqa: F811
    assert any(r["drift"] for r in monitored.values()), "July should drift against January's champion"
    page.goto(f"{stack.rt.airflow_url}/")
    page.get_by_role("link", name="Pipelines").click()
    page.wait_for_url(re.compile(r".*/plugin/mlcycle-overview.*"))
    listing = page.frame_locator("iframe")
    row = listing.locator("#pipelines tr", has_text="flights")
    row.get_by_text("DRIFT").wait_for()  # the last check (July) drifted
    assert JULY[-1] in row.inner_text()
    row.get_by_role("link", name="flights").click()

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
    assert all(by_day[ds]["rows"] > 0 for ds in [*stack.january, *JULY])

    markers = frame.evaluate("() => window.mlcycleView.data('events')")
    found = {(m["kind"], m["ds"]): re.sub(r"^https?://[^/]+", "", m["href"]) for m in markers}
    assert found == _expected_hrefs(stack, monitored)

    # a click on the promotion's marker opens the gate report, outside the sandbox, in Airflow's UI
    marker = charts.locator("path[aria-label*='promote v']").first
    with page.context.expect_page() as opened:
        marker.click()
    report = opened.value
    report.wait_for_url(re.compile(rf".*/reports/flights/gate/v{stack.seeded['version']}$"))
    report.frame_locator("iframe").locator("#mlcycle-banner", has_text="gate report").wait_for()
    report.close()

    # the events table below the charts: plain links inside the plugin's frame
    overview.locator("#events a", has_text="drift report").first.click()
    overview.locator("#mlcycle-banner", has_text="Drift report").wait_for()
