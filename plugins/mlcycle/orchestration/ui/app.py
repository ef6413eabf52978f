"""The FastAPI app: an index of the reports in the lake, the reports themselves, and GX Data Docs.

Every route requires an Airflow user (:mod:`mlcycle.orchestration.ui.auth`). Reports are read from the lake
through :mod:`mlcycle.core.storage`, so a ``file://`` and an ``s3://`` lake are one code path; Data Docs
are the GX file context's local folder. Path parameters are validated (pipeline names, dates,
versions) and files are served only from inside their folder.
"""

from __future__ import annotations

import json
import mimetypes
import re
from html import escape
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from mlcycle.core import lake, quality, storage
from mlcycle.orchestration.ui.assets import VENDOR_DIR, gx_images_dir, rewrite_cdn_urls
from mlcycle.orchestration.ui.auth import NotAuthenticated, login_url, require_user

PIPELINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
VERSION = re.compile(r"^v(\d{1,9})$")

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2937;background:#fff}
main{padding:16px 24px;max-width:1100px} h1{font-size:1.4rem;margin:.2rem 0 1rem}
h2{font-size:1.15rem;margin-top:1.6rem} table{border-collapse:collapse;margin:.4rem 0 1rem}
th,td{border-bottom:1px solid #e5e7eb;padding:6px 12px;text-align:left}
th{background:#f9fafb;font-weight:600} a{color:#0369a1} .drift{color:#b91c1c;font-weight:600} .ok{color:#15803d}
.muted{color:#6b7280} nav a{margin-right:1rem}
"""
_BANNER = ('<div id="mlcycle-banner" style="font:14px system-ui,sans-serif;padding:8px 16px;background:#f1f5f9;'
           'border-bottom:1px solid #cbd5e1;color:#0f172a">{body}</div>')


def _page(title: str, body: str, base: str, status_code: int = 200) -> HTMLResponse:
    nav = (f'<nav><a href="{base}/reports/">Drift &amp; gate reports</a>'
           f'<a href="{base}/data-docs/">Data quality (GX Data Docs)</a></nav>')
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
                        f"<style>{_STYLE}</style></head><body><main>{nav}<h1>{escape(title)}</h1>{body}</main>"
                        "</body></html>", status_code=status_code)


def _base(request: Request) -> str:
    """Where this app is mounted, as the browser sees it (Airflow's root path + the plugin prefix)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _not_found(request: Request, what: str) -> HTMLResponse:
    return _page("Not found", f"<p>{escape(what)}</p>", _base(request), status_code=404)


def _with_banner(html: str, banner: str) -> str:
    """The report's HTML with a one-line header (what it is, back to the index) after ``<body>``."""
    match = re.search(r"<body[^>]*>", html, flags=re.IGNORECASE)
    at = match.end() if match else 0
    return html[:at] + _BANNER.format(body=banner) + html[at:]


# ---- the lake ---------------------------------------------------------------------------------


def _read(uri: str) -> bytes | None:
    try:
        return storage.read_bytes(uri)
    except FileNotFoundError:
        return None


def _drift_days(pipeline: str) -> list[dict[str, Any]]:
    days = []
    for name in storage.list_names(f"{lake.zone('reports', pipeline)}/drift"):
        ds = name.removeprefix("ds=")
        raw = _read(f"{lake.drift_report(pipeline, ds)}/{lake.MANIFEST_FILE}") if name.startswith("ds=") else None
        if raw is not None:  # a report is published once its manifest is written
            days.append({"ds": ds, **json.loads(raw)})
    return sorted(days, key=lambda d: d["ds"], reverse=True)


def _gate_versions(pipeline: str) -> list[dict[str, Any]]:
    versions = []
    for name in storage.list_names(f"{lake.zone('reports', pipeline)}/gate"):
        if (match := VERSION.match(name)) is None:
            continue
        raw = _read(f"{lake.gate_report(pipeline, int(match[1]))}/{lake.GATE_REPORT}.json")
        verdict = json.loads(raw).get("verdict", {}) if raw else {}
        versions.append({"version": int(match[1]), "passed": verdict.get("passed"),
                         "reasons": verdict.get("reasons") or []})
    return sorted(versions, key=lambda v: v["version"], reverse=True)


# ---- pages ------------------------------------------------------------------------------------


def _index(request: Request) -> HTMLResponse:
    base = _base(request)
    pipelines = [p for p in storage.list_names(lake.reports()) if PIPELINE.match(p)]
    parts = [] if pipelines else ["<p class='muted'>No reports yet. The monitor and evaluate tasks publish them.</p>"]
    for pipeline in pipelines:
        parts.append(f"<h2 id='{escape(pipeline)}'>{escape(pipeline)}</h2>")
        days = _drift_days(pipeline)
        columns = any("drifted_columns" in d for d in days)  # when the manifests record them
        rows = "".join(
            f"<tr><td><a href='{base}/reports/{escape(pipeline)}/drift/{escape(d['ds'])}'>{escape(d['ds'])}</a></td>"
            f"<td class='{'drift' if d.get('drift') else 'ok'}'>{'DRIFT' if d.get('drift') else 'no drift'}</td>"
            f"<td>{_share(d.get('share'))}</td><td>{escape(str(d.get('champion', '')))}</td>"
            + (f"<td>{escape(', '.join(map(str, d.get('drifted_columns') or [])))}</td>" if columns else "")
            + "</tr>" for d in days)
        parts.append("<h3>Drift reports (Evidently, each day against the champion's training data)</h3>" + (
            f"<table><tr><th>day</th><th>verdict</th><th>drift share</th><th>champion version</th>"
            f"{'<th>drifted columns</th>' if columns else ''}</tr>{rows}</table>"
            if rows else "<p class='muted'>none yet</p>"))
        gates = "".join(
            f"<tr><td><a href='{base}/reports/{escape(pipeline)}/gate/v{g['version']}'>v{g['version']}</a></td>"
            f"<td class='{'ok' if g['passed'] else 'drift'}'>"
            f"{'passed' if g['passed'] else 'failed' if g['passed'] is not None else '?'}</td>"
            f"<td>{escape('; '.join(g['reasons']))}</td></tr>"
            for g in _gate_versions(pipeline))
        parts.append("<h3>Gate reports (Evidently, challenger vs champion on one holdout)</h3>" + (
            f"<table><tr><th>model version</th><th>gate</th><th>why</th></tr>{gates}</table>"
            if gates else "<p class='muted'>none yet</p>"))
    return _page("mlcycle reports", "".join(parts), base)


def _share(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else ""


def _drift_report(request: Request, pipeline: str, ds: str, kind: str) -> Response:
    if not PIPELINE.match(pipeline) or not DAY.match(ds):
        return _not_found(request, "No such report.")
    folder = lake.drift_report(pipeline, ds)
    manifest = _read(f"{folder}/{lake.MANIFEST_FILE}")
    body = _read(f"{folder}/{lake.DRIFT_REPORT}.{kind}") if manifest is not None else None
    if body is None:
        return _not_found(request, f"No drift report of {pipeline} for {ds} (the monitor has not published one).")
    if kind == "json":
        return Response(body, media_type="application/json")
    meta = json.loads(manifest)
    verdict = "DRIFT" if meta.get("drift") else "no drift"
    banner = (f"<b>Drift report</b> · {escape(pipeline)} · {escape(ds)} · <b>{verdict}</b> "
              f"(share {_share(meta.get('share'))}) · champion v{escape(str(meta.get('champion', '?')))} · "
              f"<a href='{_base(request)}/reports/#{escape(pipeline)}'>all reports</a> · "
              f"<a href='{_base(request)}/reports/{escape(pipeline)}/drift/{escape(ds)}/json'>JSON</a>")
    return HTMLResponse(_with_banner(body.decode("utf-8", errors="replace"), banner))


def _gate_report(request: Request, pipeline: str, version: int) -> Response:
    if not PIPELINE.match(pipeline):
        return _not_found(request, "No such report.")
    body = _read(f"{lake.gate_report(pipeline, version)}/{lake.GATE_REPORT}.html")
    if body is None:
        return _not_found(request, f"No gate report of {pipeline} version {version} (it was not evaluated yet).")
    banner = (f"<b>Evidently gate report</b> · {escape(pipeline)} · model version {version} · "
              "current = challenger, reference = champion, on the same holdout; the Tests tab is the gate · "
              f"<a href='{_base(request)}/reports/#{escape(pipeline)}'>all reports</a>")
    return HTMLResponse(_with_banner(body.decode("utf-8", errors="replace"), banner))


def safe_file(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it is a file inside ``root`` (no ``..``, no absolute path, no symlink out)."""
    if "\x00" in relative or "\\" in relative:
        return None
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    root = root.resolve()
    candidate = root.joinpath(*parts).resolve() if parts else root
    if not candidate.is_relative_to(root):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def _data_docs(request: Request, path: str) -> Response:
    root = quality.data_docs_index().parent
    target = safe_file(root, path)
    if target is None:
        return _not_found(request, "No such Data Docs page." if root.exists()
                          else "No Data Docs yet: they are built when a day is validated.")
    if target.suffix in (".html", ".htm"):
        html = rewrite_cdn_urls(target.read_text(encoding="utf-8", errors="replace"), f"{_base(request)}/static/vendor",
                                f"{_base(request)}/static/gx")
        return HTMLResponse(html)
    return FileResponse(target, media_type=mimetypes.guess_type(target.name)[0])


def _vendor(request: Request, path: str, root: Path | None = VENDOR_DIR) -> Response:
    target = safe_file(root, path) if root else None
    if target is None:
        return Response(status_code=404)
    return FileResponse(target, media_type=mimetypes.guess_type(target.name)[0] or "application/octet-stream",
                        headers={"Cache-Control": "private, max-age=86400"})


async def _refused(request: Request, exc: NotAuthenticated) -> Response:
    """401/403: a login link for a browser, JSON for an API client."""
    if "text/html" in request.headers.get("accept", ""):
        login = escape(login_url(request))
        return _page("Log in to Airflow", f"<p>{escape(str(exc.detail))}.</p><p><a href='{login}'>Log in</a></p>",
                     _base(request), status_code=exc.status_code)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


def create_app() -> FastAPI:
    """The app, every route behind :func:`~mlcycle.orchestration.ui.auth.require_user`."""
    app = FastAPI(title="mlcycle reports", dependencies=[Depends(require_user)],
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(NotAuthenticated, _refused)

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        return RedirectResponse(f"{_base(request)}/reports/")

    @app.get("/reports/")
    def reports(request: Request) -> Response:
        return _index(request)

    @app.get("/reports/{pipeline}/drift/{ds}")
    def drift_report(request: Request, pipeline: str, ds: str) -> Response:
        return _drift_report(request, pipeline, ds, "html")

    @app.get("/reports/{pipeline}/drift/{ds}/json")
    def drift_report_json(request: Request, pipeline: str, ds: str) -> Response:
        return _drift_report(request, pipeline, ds, "json")

    @app.get("/reports/{pipeline}/gate/v{version}")
    def gate_report(request: Request, pipeline: str, version: int) -> Response:
        return _gate_report(request, pipeline, version)

    @app.get("/data-docs/{path:path}")
    def data_docs(request: Request, path: str) -> Response:
        return _data_docs(request, path)

    @app.get("/static/vendor/{path:path}")
    def vendor(request: Request, path: str) -> Response:
        return _vendor(request, path)

    @app.get("/static/gx/{path:path}")
    def gx_image(request: Request, path: str) -> Response:
        return _vendor(request, path, gx_images_dir())

    @app.get("/{path:path}", include_in_schema=False)
    def anything_else(request: Request, path: str) -> Response:  # last: unknown pages need a login too
        return _not_found(request, "No such page.")

    return app
