"""Untrusted data never runs as code in Airflow's origin (issue 12), in a real browser against the session's stack.

An attacker who can only drop a file into the landing zone puts HTML and JavaScript into string columns
of an otherwise normal day: ``dest`` and ``carrier`` (rows that pass validation: they reach the drift
report) and ``origin`` (rows that GX quarantines: Data Docs list them as unexpected values). Each payload
family is there: ``<script>``, event-handler attributes, ``javascript:`` URLs, SVG, attribute break-outs
and an early ``</script>``. The day goes through ingest, validate, score, monitor and, as a candidate
model trained on it, the gate (plain stage calls: no scheduler, a few seconds each).

Then a browser logged in to Airflow opens every page the product serves for that day and model version,
directly and inside the Airflow UI. A payload that runs records ``<family>@<column>`` in ``top`` when it
can reach it (same origin as Airflow) and in its own window otherwise. Each page must show no dialog, no
payload mark in any frame of Airflow's origin, no page error, and its data in a sandboxed frame that
cannot read ``document.cookie``. Screenshots go to ``$MLCYCLE_TEST_ARTIFACTS`` (``e2e-xss/``).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

try:
    from mlcycle.stages import scoring  # score_day, monitor_day
except ImportError:  # before they moved out of stages.modelling
    from mlcycle.stages import modelling as scoring

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MLCYCLE_TEST_ARTIFACTS", REPO / ".test-artifacts")) / "e2e-xss"
ARTIFACTS.mkdir(parents=True, exist_ok=True)
DAY = "2013-01-05"
MARK = "__mlcycle_xss"
UI_WAIT = 60  # seconds, for the browser to show what the server already has


def _js(tag: str) -> str:
    """What a payload runs: mark Airflow's window if it can reach it, else its own; then try a dialog."""
    return (f"try{{(top.{MARK}=top.{MARK}||[]).push('{tag}')}}"
            f"catch(e){{(self.{MARK}_contained=self.{MARK}_contained||[]).push('{tag}')}};alert('{tag}')")


FAMILIES = {
    "script": "<script>{js}</script>",
    "event-handler": '<img src=x onerror="{js}">',
    "javascript-url": '<iframe src="javascript:{js}"></iframe><a href="javascript:{js}">open</a>',
    "svg": '<svg onload="{js}"><animate onbegin="{js}" attributeName=x dur=1s></animate></svg>',
    "attribute-breakout": "\"'><img src=x onerror=\"{js}\">",
    "script-close": "</script><script>{js}</script>",
}
COLUMNS = ("dest", "carrier", "origin")  # origin: quarantined (GX lists it); dest, carrier: in the drift report


def payload(family: str, column: str) -> str:
    return FAMILIES[family].format(js=_js(f"{family}@{column}"))


def poisoned_frame(frame):
    """The day with every payload family in every column of :data:`COLUMNS`, twice (36 rows of ~900)."""
    frame = frame.copy()
    row = 0
    for column in COLUMNS:
        for family in FAMILIES:
            for _ in range(2):
                frame.loc[frame.index[row * 7 + 3], column] = payload(family, column)
                row += 1
    return frame


@pytest.fixture(scope="module")
def poisoned(stack):
    """The poisoned day through every stage, and a candidate model trained on it through the gate."""
    from mlcycle import settings
    from mlcycle.core import lake, quality, storage
    from mlcycle.sources import landing, nycflights
    from mlcycle.stages import ingestion, modelling

    config, started = stack.config, time.monotonic()
    landing.land_frame(poisoned_frame(nycflights.day(DAY)), settings.landing_uri(), config.landing_path(DAY))
    ingestion.ingest_day(config, DAY)
    validated = ingestion.validate_day(config, DAY)
    quarantined = storage.read_partition(lake.quarantine("flights", DAY, "validate"))
    assert set(quarantined["origin"]) >= {payload(f, "origin") for f in FAMILIES}, "GX quarantined them"
    monitored = storage.read_partition(validated["uri"])
    assert set(monitored["dest"]) >= {payload(f, "dest") for f in FAMILIES}, "the drift check sees them"
    assert scoring.score_day(config, DAY)["rows"] == validated["rows"]
    assert scoring.monitor_day(config, DAY)["ds"] == DAY
    candidate = modelling.train_model(config, DAY, cause={"type": "manual", "reason": "e2e: a poisoned day"})
    modelling.evaluate_model(config, candidate["version"])
    docs = quality.data_docs_index().parent
    page = Path(validated["docs_url"].removeprefix("file://")).relative_to(docs).as_posix()
    assert "onerror" in (docs / page).read_text(), "GX lists the origin payloads on the validation page"
    return SimpleNamespace(version=candidate["version"], docs_page=page, seconds=time.monotonic() - started)


# every frame records its uncaught errors (Playwright's pageerror may not see those of a sandboxed frame)
_RECORD_ERRORS = """(() => {
  const record = what => (self.__pageErrors = self.__pageErrors || []).push(String(what));
  window.addEventListener('error', e => record(e.message));
  window.addEventListener('unhandledrejection', e => record(e.reason));
})();"""


@pytest.fixture(scope="module")
def page(stack, browser):
    """A tab logged in to Airflow, recording dialogs and page errors."""
    from mlcycle.tools import runtime

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_WAIT * 1000)
    context.add_init_script(_RECORD_ERRORS)
    page = context.new_page()
    page.dialogs, page.errors = [], []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{stack.rt.airflow_url}/auth/login")
    page.get_by_label("Username").fill(runtime.USERNAME)
    page.get_by_label("Password").fill(stack.rt.password())
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Dags").first.wait_for()
    yield page
    context.close()


_FRAME_STATE = f"""() => {{
    let cookie;
    try {{ cookie = document.cookie; }} catch (e) {{ cookie = null; }}
    return {{origin: self.origin, cookie, marks: self.{MARK} || [], contained: self.{MARK}_contained || [],
             errors: self.__pageErrors || []}};
}}"""


def _frames(page) -> list[dict]:
    states = []
    for frame in page.frames:
        if frame.url.startswith(("javascript:", "about:")):
            continue  # a payload's own frame; whatever ran there recorded itself in its parent or top
        try:
            states.append({"url": frame.url, **frame.evaluate(_FRAME_STATE)})
        except Exception as exc:  # a frame that navigated away meanwhile
            states.append({"url": frame.url, "origin": "?", "gone": str(exc), "marks": [], "contained": [],
                           "errors": [], "cookie": None})
    return states


def _shows(page, text: str) -> bool:
    """Whether some frame of the page shows ``text`` within :data:`UI_WAIT`."""
    deadline = time.monotonic() + UI_WAIT
    while time.monotonic() < deadline:
        for frame in page.frames:
            try:
                if frame.get_by_text(text).count():
                    return True
            except Exception:  # a frame detached while polling
                continue
        time.sleep(0.3)
    return False


def check_page(page, airflow: str, url: str, ready: str, shot: str, data: bool = True) -> dict:
    """Open ``url`` and wait for ``ready`` in some frame. Problems: payloads that ran in Airflow's origin,
    dialogs, page errors, and (``data``) data outside a sandboxed frame, or a frame that reads the cookie."""
    page.dialogs.clear()
    page.errors.clear()
    page.goto(url)
    rendered = _shows(page, ready)
    page.wait_for_timeout(1500)  # image errors, SVG animations and the payloads' frames settle
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"))
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(airflow))
    frames = _frames(page)
    problems = [] if rendered else [f"the page did not render (no {ready!r} in any frame)"]
    if ran := sorted({m for f in frames if f["origin"] == origin for m in f["marks"]}):
        problems.append(f"{len(ran)} payloads ran in Airflow's origin: {ran}")
    if page.dialogs:
        problems.append(f"dialogs opened: {page.dialogs}")
    if errors := page.errors + [e for f in frames for e in f["errors"]]:
        problems.append(f"page errors: {errors}")
    content = [f for f in frames if "/mlcycle/content/" in f["url"]]
    if data and not content:
        problems.append(f"the data is not in a sandboxed frame: {[f['url'] for f in frames]}")
    for frame in content:
        if frame["origin"] != "null" or frame["cookie"] is not None:
            problems.append(f"{frame['url']} has origin {frame['origin']} and reads cookie {frame['cookie']!r}")
    return {"problems": problems, "contained": sorted({m for f in frames for m in f["contained"]})}


def test_no_payload_runs_in_airflows_origin_on_any_page_of_the_day(stack, poisoned, page):
    url, v = stack.rt.airflow_url, poisoned.version
    pages = [  # (url, text that shows the page rendered, screenshot, does it show data?)
        (f"{url}/mlcycle/reports/", f"v{v}", "01-overview", False),
        (f"{url}/mlcycle/reports/flights/drift/{DAY}", "Dataset Drift", "02-drift-report", True),
        (f"{url}/mlcycle/reports/flights/gate/v{v}", "RocAuc", "03-gate-report", True),
        (f"{url}/mlcycle/data-docs/", f"flights-{DAY}", "04-data-docs-index", True),
        (f"{url}/mlcycle/data-docs/{poisoned.docs_page}", "Unexpected Value", "05-data-docs-day", True),
        (f"{url}/plugin/mlcycle-reports/mlcycle/reports/", f"v{v}", "06-airflow-overview", False),
        (f"{url}/plugin/mlcycle-reports/mlcycle/reports/flights/drift/{DAY}", "Dataset Drift",
         "07-airflow-drift-report", True),
        (f"{url}/plugin/mlcycle-reports/mlcycle/reports/flights/gate/v{v}", "RocAuc", "08-airflow-gate-report", True),
        (f"{url}/plugin/mlcycle-data-quality/mlcycle/data-docs/{poisoned.docs_page}", "Unexpected Value",
         "09-airflow-data-docs-day", True),
        (f"{url}/mlcycle/", "last drift check", "11-pipelines", False),
        (f"{url}/plugin/mlcycle-overview/mlcycle/pipelines/flights", "Drift share per day",
         "12-airflow-pipeline-overview", True),
    ]
    problems, contained = {}, {}
    for address, ready, shot, data in pages:
        result = check_page(page, url, address, ready, shot, data)
        contained[shot] = result["contained"]
        if result["problems"]:
            problems[address] = result["problems"]
    print(f"\npoisoned day through the stages in {poisoned.seconds:.0f}s; payloads that ran inside the sandbox "
          f"(contained): {contained}")
    assert not problems, "\n".join(f"{address}:\n  " + "\n  ".join(p) for address, p in problems.items())


def _content_frame(page):
    return next(f for f in page.frames if "/mlcycle/content/" in f.url)


def _errors(page) -> list[str]:
    return page.errors + [e for f in _frames(page) for e in f["errors"]]


def test_the_reports_and_data_docs_still_work_in_the_sandbox(stack, poisoned, page):
    """Evidently's widgets and GX's tables, styles and links work in the sandbox, clicked through, error-free."""
    url = stack.rt.airflow_url
    assert not check_page(page, url, f"{url}/mlcycle/data-docs/", f"flights-{DAY}", "10-data-docs-index")["problems"]
    docs = _content_frame(page)
    styled = docs.locator("body").evaluate("b => getComputedStyle(b).fontFamily")
    assert "Segoe UI" in styled, styled  # Bootstrap's stylesheet, vendored, loaded from the opaque origin
    docs.locator("tbody tr", has_text=f"flights-{DAY}").first.click()  # a link between Data Docs pages
    docs.get_by_text("Unexpected Value").first.wait_for()
    assert re.search(r"/mlcycle/content/[^/]+/validations/", docs.url), docs.url
    docs.locator("tr", has_text="EWR").last.scroll_into_view_if_needed()  # origin's unexpected values: the payloads
    page.mouse.wheel(0, 400)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "11-data-docs-origin-payloads.png"))
    assert not _errors(page)

    assert not check_page(page, url, f"{url}/mlcycle/reports/flights/drift/{DAY}", "Dataset Drift",
                          "12-drift-report")["problems"]
    report = _content_frame(page)
    assert report.locator(".js-plotly-plot, svg").count() > 0, "Evidently drew no plot"
    report.locator("tr", has=report.get_by_text("dest", exact=True)).first.locator("button").first.click()
    page.wait_for_timeout(1500)  # the row opens the column's distribution: category values on its axis
    page.screenshot(path=str(ARTIFACTS / "13-drift-report-dest-opened.png"))
    report.get_by_role("tab", name="Tests").click()
    report.get_by_text("Share of Drifted Columns").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "14-drift-report-tests-tab.png"))
    assert not _errors(page)
    assert not page.dialogs
