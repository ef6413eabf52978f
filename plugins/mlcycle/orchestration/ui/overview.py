"""The pipelines' overview: the list at the plugin's root, and one page per pipeline with its time series.

The page (:func:`page`) is the plugin's own: the champion card and the table of events are escaped
HTML. The charts are a sandboxed frame (:func:`charts_html`, served from a signed content URL like the
reports): the vendored Vega-Lite draws them from the data, which sits in a JSON ``<script>`` block with
``<``, ``>`` and ``&`` written as ``\\u003c``... so a value cannot end the element.

A click on a marker opens its report in the plugin's frame, as the same link of the events table does.
Airflow shows the plugin in a frame sandboxed without ``allow-popups``, so neither a new tab nor a top
navigation is possible from inside; instead the charts frame posts the marker's link to the page, and
the page's one script (allowed by its hash in the CSP, :data:`NAVIGATE`) follows it only when the events
table holds that very link: a payload in the charts could at most pick one of the page's own links.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import escape
from typing import Any

from fastapi.responses import HTMLResponse

from mlcycle import settings
from mlcycle.orchestration.ui import pages
from mlcycle.orchestration.ui.sandbox import SANDBOX, page_headers

KINDS = {"promote": "#15803d", "reject": "#b91c1c", "rollback": "#7c3aed", "incident": "#ea580c",
         "alert": "#d97706"}
_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def event_url(base: str, pipeline: str, model: str, event: dict[str, Any]) -> str | None:
    """Where a marker leads: the plugin's page of its gate or drift report, or the model version in MLflow."""
    from urllib.parse import quote

    if event["link"] == "gate":
        return f"{base}/reports/{quote(pipeline, safe='')}/gate/v{int(event['version'])}"
    if event["link"] == "drift":
        return f"{base}/reports/{quote(pipeline, safe='')}/drift/{quote(event['ds'], safe='')}"
    ui = settings.mlflow_ui_url()
    return f"{ui}/#/models/{quote(model, safe='')}/versions/{event['version']}" if ui and event["version"] else None


# ---- the charts (sandboxed content) -----------------------------------------------------------

_X = {"field": "ds", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": None,  # one band per day
      "axis": {"format": "%b %d", "labelOverlap": "greedy"}}


def _ticks(days: list[dict[str, Any]]) -> str:
    """A tick per day, week or month, by how many days the charts span."""
    import datetime as dt

    span = (dt.date.fromisoformat(days[-1]["ds"]) - dt.date.fromisoformat(days[0]["ds"])).days if days else 0
    return "day" if span <= 31 else "week" if span <= 91 else "month"


def _markers(height: int) -> list[dict[str, Any]]:
    """Vertical rules and clickable triangles at each event, coloured by kind."""
    color = {"field": "kind", "type": "nominal", "title": "event",
             "scale": {"domain": list(KINDS), "range": list(KINDS.values())}}
    tooltip = [{"field": "ds", "type": "temporal", "title": "day"}, {"field": "text", "title": "what"},
               {"field": "href", "title": "opens"}]
    return [
        {"data": {"name": "events"}, "mark": {"type": "rule", "strokeDash": [3, 3], "opacity": 0.6},
         "encoding": {"x": _X, "color": color}},
        {"data": {"name": "events"}, "mark": {"type": "point", "shape": "triangle-down", "size": 140, "filled": True,
                                              "cursor": "pointer", "opacity": 1},
         "encoding": {"x": _X, "y": {"value": 6}, "color": color, "tooltip": tooltip}},
    ]


def _line(field: str, title: str, color: str, dash: list[int] | None = None, axis: dict | None = None) -> dict:
    mark = {"type": "line", "point": {"size": 16, "color": color}, "color": color,
            "invalid": "break-paths-filter-domains",  # a missing day breaks the line
            **({"strokeDash": dash} if dash else {})}
    return {"mark": mark,
            "encoding": {"x": _X, "y": {"field": field, "type": "quantitative", "title": title, **(axis or {})},
                         "tooltip": [{"field": "ds", "type": "temporal"}, {"field": field, "title": title}]}}


def with_gaps(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``days`` with an empty day after each run of consecutive days, so lines do not bridge missing days."""
    import datetime as dt

    out: list[dict[str, Any]] = []
    for day in days:
        if out and dt.date.fromisoformat(day["ds"]) - dt.date.fromisoformat(out[-1]["ds"]) > dt.timedelta(days=1):
            out.append({"ds": (dt.date.fromisoformat(out[-1]["ds"]) + dt.timedelta(days=1)).isoformat(), "gap": True})
        out.append(day)
    return out


def spec(days: list[dict[str, Any]], events: list[dict[str, Any]], primary: str) -> dict[str, Any]:
    """The Vega-Lite spec: drift share (with its threshold), quality (with the champion's holdout figure),
    rows and quarantine share, all on one time axis, with the events on each."""
    width, height = 860, 150
    drift = {"title": "Drift share per day (dashed: the threshold)", "layer": [
        _line("drift_share", "drift share", "#0369a1", axis={"scale": {"domain": [0, 1]}}),
        {"mark": {"type": "line", "color": "#b91c1c", "strokeDash": [6, 4], "interpolate": "step-after",
                  "invalid": "break-paths-filter-domains"},
         "encoding": {"x": _X, "y": {"field": "drift_threshold", "type": "quantitative"}}},
        *_markers(height)]}
    quality = {"title": f"{primary} per day (dashed: the champion's holdout figure)", "layer": [
        _line("quality", primary, "#0f766e", axis={"scale": {"zero": False}}),
        _line("champion_quality", f"champion's holdout {primary}", "#64748b", dash=[6, 4],
              axis={"scale": {"zero": False}}),
        *_markers(height)]}
    volume = {"title": "Rows landed per day (bars) and quarantine share (line)", "layer": [
        {"mark": {"type": "bar", "color": "#94a3b8", "opacity": 0.8},
         "transform": [{"filter": "isValid(datum.rows)"}],
         "encoding": {"x": _X, "y": {"field": "rows", "type": "quantitative", "title": "rows"}}},
        _line("quarantine_share", "quarantine share", "#ea580c", axis={"axis": {"format": "%", "orient": "right"}}),
        *_markers(height)], "resolve": {"scale": {"y": "independent"}}}
    return {"$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "datasets": {"days": with_gaps(days), "events": events}, "data": {"name": "days"},
            "vconcat": [{**chart, "width": width, "height": height} for chart in (drift, quality, volume)],
            "resolve": {"scale": {"x": "shared", "color": "shared"}},
            "config": {"font": "system-ui, sans-serif", "legend": {"orient": "top"},
                       "axisX": {"tickCount": _ticks(days)}}}


def _script_json(value: Any) -> str:
    return re.sub("[<>&]", lambda m: _UNSAFE[m[0]], json.dumps(value, default=str))


def charts_html(base: str, chart: dict[str, Any]) -> str:
    """The sandboxed page that draws ``chart`` with the vendored Vega, Vega-Lite and Vega-Embed."""
    vendor = f"{escape(base)}/static/vendor"
    scripts = "".join(f"<script src='{vendor}/{name}/{name}.min.js'></script>"
                      for name in ("vega", "vega-lite", "vega-embed"))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>overview</title>"
            "<style>body{margin:0;font-family:system-ui,sans-serif} #error{color:#b91c1c}</style>"
            f"{scripts}</head><body><div id='charts'></div><p id='error'></p>"
            f"<script type='application/json' id='spec'>{_script_json(chart)}</script>"
            "<script>(function () {\n"
            "  var spec = JSON.parse(document.getElementById('spec').textContent);\n"
            "  vegaEmbed('#charts', spec, {actions: false, renderer: 'svg'})\n"
            "    .then(function (result) {\n"
            "      result.view.addEventListener('click', function (event, item) {\n"
            "        var href = item && item.datum && item.datum.href;\n"
            "        if (typeof href === 'string') { parent.postMessage({mlcycleEvent: href}, '*'); }\n"
            "      });\n"
            "      window.mlcycleView = result.view; document.body.dataset.ready = '1';\n"
            "    })\n"
            "    .catch(function (error) { document.getElementById('error').textContent = String(error); });\n"
            "})();</script></body></html>")


# ---- the plugin's own pages (no script) -------------------------------------------------------


def _card(card: dict[str, Any] | None, problem: str = "") -> str:
    if problem:
        return f"<p class='drift'>The registry could not be read: {escape(problem)}</p>"
    if card is None:
        return "<p class='muted'>No champion yet: the first version that passes the gate becomes one.</p>"
    rows = [("version", f"v{card['version']}"), ("champion since", card["since"] or "?"),
            ("gate", f"{card['gate']}{' · ' + card['verdict'] if card['verdict'] else ''}"
                     f"{' (' + card['reasons'] + ')' if card['reasons'] else ''}"),
            ("approval", f"{card['approval'] or 'not required'}"
                         f"{' by ' + card['approved_by'] if card['approved_by'] else ''}"),
            *card["lineage"].items()]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table id='champion'>{body}</table>"


def _event_rows(base: str, pipeline: str, events: list[dict[str, Any]], model: str) -> str:
    rows = []
    for index, e in reversed(list(enumerate(events))):
        url, label = event_url(base, pipeline, model, e), {"gate": "gate report", "drift": "drift report"}
        target = ("" if url is None else
                  f"<a data-event='{index}' href='{escape(url)}'>{label[e['link']]}</a>" if e["link"] in label else
                  f"<a data-event='{index}' href='{escape(url)}' target='_blank' rel='noopener noreferrer'>"
                  "model version</a>")
        rows.append(f"<tr class='event {escape(e['kind'])}'><td>{escape(e['ds'])}</td><td>{escape(e['kind'])}</td>"
                    f"<td>{escape(e['text'])}</td><td>{target}</td></tr>")
    return (f"<table id='events'><tr><th>day</th><th>event</th><th>what</th><th>see</th></tr>{''.join(rows)}</table>"
            if rows else "<p class='muted'>No promotion, rejection, rollback or drift alert yet.</p>")


# The page's only script: a marker's link, posted by the charts frame, is followed if the events table has it
NAVIGATE = ("window.addEventListener('message', function (e) {"
            " var frame = document.getElementById('mlcycle-content');"
            " if (!frame || e.source !== frame.contentWindow || !e.data || typeof e.data.mlcycleEvent !== 'string')"
            " { return; }"
            " var links = document.querySelectorAll('#events a[data-event]');"
            " for (var i = 0; i < links.length; i++) {"
            "  if (links[i].getAttribute('href') === e.data.mlcycleEvent && !links[i].target) {"
            "   window.location.assign(links[i].href); return; } } });")
_NAVIGATE_HASH = base64.b64encode(hashlib.sha256(NAVIGATE.encode()).digest()).decode()


def page(base: str, pipeline: str, card: dict[str, Any] | None, events: list[dict[str, Any]], model: str,
         charts_src: str, problem: str = "") -> HTMLResponse:
    """One pipeline: the charts (sandboxed frame), the champion card and the events, newest first."""
    frame = (f"<iframe id='mlcycle-content' class='charts' title='charts of {escape(pipeline)}' "
             f"sandbox='{SANDBOX}' referrerpolicy='no-referrer' src='{escape(charts_src)}'></iframe>")
    body = (f"<p>{pages.link(base, '', text='all pipelines')} · "
            f"{pages.link(base, 'reports', '', text='reports of ' + pipeline, fragment=pipeline)}</p>"
            f"{frame}<h2>Champion</h2>{_card(card, problem)}"
            f"<h2>Promotions, rejections, rollbacks and drift alerts</h2>{_event_rows(base, pipeline, events, model)}")
    response = pages.page(f"Overview of {pipeline}", f"{body}<script>{NAVIGATE}</script>", base)
    csp = page_headers()["Content-Security-Policy"] + f"; script-src 'sha256-{_NAVIGATE_HASH}'"
    response.headers["Content-Security-Policy"] = csp
    return response


def _state(s: dict[str, Any]) -> str:
    monitored = s["last_monitored"]
    if monitored is None:
        return "<span class='muted'>not monitored yet</span>"
    verdict = "DRIFT" if monitored.get("drift") else "no drift"
    return (f"<span class='{'drift' if monitored.get('drift') else 'ok'}'>{verdict}</span> on "
            f"{escape(monitored['ds'])} (share {pages.share(monitored.get('drift_share'))})")


def pipelines_page(base: str, summaries: list[dict[str, Any]]) -> HTMLResponse:
    """The plugin's root: every pipeline with its state at a glance."""
    rows = "".join(
        f"<tr><td>{pages.link(base, 'pipelines', s['pipeline'], text=s['pipeline'])}</td>"
        f"<td>{escape(s['last_validated'] or '-')}</td><td>{_state(s)}</td>"
        f"<td>{pages.share(s['quarantine_share'])}</td>"
        f"<td>{escape('v' + str(s['champion']) if s['champion'] else '-')}</td>"
        f"<td>{'' if s['configured'] else '<span class=muted>no config</span>'}</td></tr>" for s in summaries)
    body = (f"<table id='pipelines'><tr><th>pipeline</th><th>last validated day</th><th>last drift check</th>"
            f"<th>quarantine share (last day)</th><th>champion (last check)</th><th></th></tr>{rows}</table>"
            if rows else "<p class='muted'>No pipeline has data in the lake yet.</p>")
    return pages.page("Pipelines", body, base)


# ---- the routes (registered by app.create_app) ------------------------------------------------


def pipelines_route(base: str) -> HTMLResponse:
    from mlcycle.core import overview

    return pipelines_page(base, [overview.summary(p, overview.config_of(p)) for p in overview.pipelines()])


def _registry_view(pipeline: str, model: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str]:
    """The champion card and the events; with MLflow unreachable, the drift alerts alone and the problem."""
    from mlcycle.core import overview

    try:
        return overview.champion_card(model), overview.events(pipeline, model), ""
    except Exception as exc:  # the lake's charts stay useful while the registry is down
        alerts = [{"ds": d["ds"], "kind": "alert", "version": d.get("champion"), "at": "", "link": "drift",
                   "text": f"drift on {d['ds']}"} for d in overview.daily_drift_alerts(pipeline)]
        return None, alerts, f"{type(exc).__name__}: {str(exc)[:300]}"


def pipeline_route(base: str, pipeline: str) -> HTMLResponse:
    from mlcycle.core import overview
    from mlcycle.orchestration.ui import sandbox

    config = overview.config_of(pipeline)
    model = config.model_name if config else pipeline
    card, events, problem = _registry_view(pipeline, model)
    src = sandbox.content_url(base, sandbox.grant("overview", pipeline, "charts"), "charts.html")
    return page(base, pipeline, card, events, model, src, problem)


def charts_route(base: str, pipeline: str) -> str:
    """The sandboxed charts of ``pipeline``: every day in the lake and every event, with its link."""
    from mlcycle.core import overview

    config = overview.config_of(pipeline)
    model = config.model_name if config else pipeline
    _, events, _ = _registry_view(pipeline, model)
    events = [{**e, "href": event_url(base, pipeline, model, e)} for e in events]
    primary = config.training.primary_metric if config else "quality"
    return charts_html(base, spec(overview.daily(pipeline, config), events, primary))
