"""The plugin's own pages: the overview of reports, and the wrapper around a sandboxed report.

Everything that comes from the lake (pipeline names, days, manifests, gate reasons, column names) is
HTML-escaped, and URL-quoted inside links. These pages have no script: their Content-Security-Policy
(:func:`mlcycle.orchestration.ui.sandbox.page_headers`) would not run one anyway.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from fastapi.responses import HTMLResponse

from mlcycle.orchestration.ui.sandbox import SANDBOX, page_headers

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2937;background:#fff}
main{padding:16px 24px;max-width:1100px} h1{font-size:1.4rem;margin:.2rem 0 1rem}
h2{font-size:1.15rem;margin-top:1.6rem} table{border-collapse:collapse;margin:.4rem 0 1rem}
th,td{border-bottom:1px solid #e5e7eb;padding:6px 12px;text-align:left}
th{background:#f9fafb;font-weight:600} a{color:#0369a1} .drift{color:#b91c1c;font-weight:600} .ok{color:#15803d}
.muted{color:#6b7280} nav a{margin-right:1rem}
html.framed,html.framed body{height:100%} body.framed{display:flex;flex-direction:column}
body.framed iframe{flex:1;border:0;width:100%;display:block}
iframe.charts{border:0;width:100%;height:770px;display:block}
#mlcycle-banner{font:14px system-ui,sans-serif;padding:8px 16px;background:#f1f5f9;border-bottom:1px solid #cbd5e1;
color:#0f172a}
"""


def _html(title: str, body: str, status_code: int = 200, framed: bool = False) -> HTMLResponse:
    cls = " class='framed'" if framed else ""
    return HTMLResponse(f"<!doctype html><html{cls}><head><meta charset='utf-8'><title>{escape(title)}</title>"
                        f"<style>{_STYLE}</style></head><body{cls}>{body}</body></html>",
                        status_code=status_code, headers=page_headers())


def page(title: str, body: str, base: str, status_code: int = 200) -> HTMLResponse:
    """A plain page with the plugin's navigation; ``body`` must already be escaped HTML."""
    nav = (f'<nav><a href="{escape(base)}/">Pipelines</a>'
           f'<a href="{escape(base)}/reports/">Drift &amp; gate reports</a>'
           f'<a href="{escape(base)}/data-docs/">Data quality (GX Data Docs)</a></nav>')
    return _html(title, f"<main>{nav}<h1>{escape(title)}</h1>{body}</main>", status_code)


def not_found(base: str, what: str) -> HTMLResponse:
    return page("Not found", f"<p>{escape(what)}</p>", base, status_code=404)


def framed(title: str, banner: str, src: str) -> HTMLResponse:
    """The banner (escaped HTML) over a sandboxed frame that shows the content URL ``src``."""
    frame = (f"<iframe id='mlcycle-content' title='{escape(title)}' sandbox='{SANDBOX}' "
             f"referrerpolicy='no-referrer' src='{escape(src)}'></iframe>")
    return _html(title, f"<div id='mlcycle-banner'>{banner}</div>{frame}", framed=True)


def link(base: str, *segments: str, text: str, fragment: str = "") -> str:
    """``<a>`` to ``base/segment/...`` (each segment URL-quoted) with escaped ``text``."""
    path = "/".join(quote(s, safe="") for s in segments)
    anchor = f"#{quote(fragment, safe='')}" if fragment else ""
    return f"<a href='{escape(base)}/{escape(path)}{escape(anchor)}'>{escape(text)}</a>"


def share(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else ""


def _drift_rows(base: str, pipeline: str, days: list[dict[str, Any]]) -> str:
    columns = any("drifted_columns" in d for d in days)  # when the manifests record them
    rows = "".join(
        f"<tr><td>{link(base, 'reports', pipeline, 'drift', d['ds'], text=d['ds'])}</td>"
        f"<td class='{'drift' if d.get('drift') else 'ok'}'>{'DRIFT' if d.get('drift') else 'no drift'}</td>"
        f"<td>{share(d.get('share'))}</td><td>{escape(str(d.get('champion', '')))}</td>"
        + (f"<td>{escape(', '.join(map(str, d.get('drifted_columns') or [])))}</td>" if columns else "")
        + "</tr>" for d in days)
    return (f"<table><tr><th>day</th><th>verdict</th><th>drift share</th><th>champion version</th>"
            f"{'<th>drifted columns</th>' if columns else ''}</tr>{rows}</table>"
            if rows else "<p class='muted'>none yet</p>")


def _gate_rows(base: str, pipeline: str, gates: list[dict[str, Any]]) -> str:
    rows = []
    for g in gates:
        version, passed = f"v{g['version']}", g["passed"]
        rows.append(f"<tr><td>{link(base, 'reports', pipeline, 'gate', version, text=version)}</td>"
                    f"<td class='{'ok' if passed else 'drift'}'>"
                    f"{'passed' if passed else 'failed' if passed is not None else '?'}</td>"
                    f"<td>{escape('; '.join(map(str, g['reasons'])))}</td></tr>")
    return (f"<table><tr><th>model version</th><th>gate</th><th>why</th></tr>{''.join(rows)}</table>"
            if rows else "<p class='muted'>none yet</p>")


def _quarantine_rows(entries: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(e['ds'])}</td><td>{escape(e['stage'])}</td><td>{escape(str(e['what']))}</td><td>"
        + "<br>".join(escape(str(reason)) + (f" <span class='muted'>({count} rows)</span>" if count else "")
                      for reason, count in e["reasons"].items())
        + "</td></tr>" for e in entries)
    return (f"<table><tr><th>day</th><th>set aside by</th><th>what</th><th>why</th></tr>{rows}</table>"
            if rows else "<p class='muted'>nothing</p>")


Overview = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def overview(base: str, pipelines: dict[str, Overview]) -> HTMLResponse:
    """The index: per pipeline, its drift reports (newest first), gate reports and quarantine."""
    parts = [] if pipelines else ["<p class='muted'>No reports yet. The monitor and evaluate tasks publish them.</p>"]
    for pipeline, (days, gates, quarantine) in pipelines.items():
        parts.append(f"<h2 id='{escape(pipeline)}'>{escape(pipeline)}</h2>")
        parts.append("<h3>Drift reports (Evidently, each day against the champion's training data)</h3>"
                     + _drift_rows(base, pipeline, days))
        parts.append("<h3>Gate reports (Evidently, challenger vs champion on one holdout)</h3>"
                     + _gate_rows(base, pipeline, gates))
        parts.append(f"<h3>Quarantine (files and rows set aside, with the reason; <code>quarantine/{escape(pipeline)}"
                     "/ds=&lt;day&gt;/&lt;stage&gt;/</code> in the lake)</h3>" + _quarantine_rows(quarantine))
    return page("mlcycle reports", "".join(parts), base)
