"""The FastAPI app: an index of the reports in the lake, the reports themselves, and GX Data Docs.

Routes, under the prefix where Airflow mounts the app (``/mlcycle``)::

    /                                   every pipeline, its state at a glance                login
    /pipelines/<p>                      a pipeline's overview: charts (sandboxed), champion  login
    /reports/                           overview of every pipeline's reports and quarantine login
    /reports/<p>/drift/<ds>             banner + sandboxed frame of a day's drift report  login
    /reports/<p>/drift/<ds>/json        that report's JSON                               login
    /reports/<p>/gate/v<n>              banner + sandboxed frame of a version's gate report login
    /reports/<p>/card/v<n>              the version's model card (escaped page)          login
    /data-docs/<path>                   banner + sandboxed frame of a GX Data Docs page   login
    /content/<token>/<path>             the page built from data, sandboxed               signed URL
    /static/vendor/<path>, /static/gx/<path>   vendored CDN assets, GX's images (no data)  public

Logins are Airflow's (:mod:`mlcycle.orchestration.ui.auth`); how data pages are sandboxed and which
headers each route sends is :mod:`mlcycle.orchestration.ui.sandbox`. Reports are read from the lake
through :mod:`mlcycle.core.storage`, so a ``file://`` and an ``s3://`` lake are one code path; Data
Docs are the GX file context's local folder. Path parameters are validated (pipeline names, dates,
versions) and files are served only from inside their folder.
"""

from __future__ import annotations

import json
import mimetypes
import re
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from mlcycle.core import lake, model_card, quality, report_html, storage
from mlcycle.core import overview as overview_data
from mlcycle.orchestration.ui import overview, pages, sandbox
from mlcycle.orchestration.ui.assets import VENDOR_DIR, gx_images_dir, rewrite_cdn_urls
from mlcycle.orchestration.ui.auth import NotAuthenticated, login_url, require_user

PIPELINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
VERSION = re.compile(r"^v(\d{1,9})$")
QUARANTINE_DAYS = 30  # the overview lists the quarantine of this many latest days per pipeline


def _base(request: Request) -> str:
    """Where this app is mounted, as the browser sees it (Airflow's root path + the plugin prefix)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _not_found(request: Request, what: str) -> HTMLResponse:
    return pages.not_found(_base(request), what)


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
        raw = _read(f"{lake.drift_report(pipeline, ds)}/{lake.MANIFEST_FILE}") if DAY.match(ds) else None
        if raw is not None:  # a report is published once its manifest is written
            days.append({**json.loads(raw), "ds": ds})
    return sorted(days, key=lambda d: d["ds"], reverse=True)


def _gate_versions(pipeline: str) -> list[dict[str, Any]]:
    return overview_data.gate_reports(pipeline)


def _quarantine(pipeline: str) -> list[dict[str, Any]]:
    """What ingest and validate set aside on the latest days: per day and stage, what (a file, or rows) and why."""
    days = sorted((n.removeprefix("ds=") for n in storage.list_names(lake.zone("quarantine", pipeline))
                   if DAY.match(n.removeprefix("ds="))), reverse=True)
    entries = []
    for ds in days[:QUARANTINE_DAYS]:
        for stage in storage.list_names(lake.partition("quarantine", pipeline, ds)):
            folder = lake.quarantine(pipeline, ds, stage)
            if stage == "file":
                reason = json.loads(_read(f"{folder}/reason.json") or b"{}")
                what, reasons = reason.get("source", "").rsplit("/", 1)[-1], {reason.get("reason", "?"): None}
            else:
                meta = json.loads(_read(f"{folder}/{lake.MANIFEST_FILE}") or b"{}")
                what, reasons = f"{meta.get('rows', '?')} rows", meta.get("reasons") or {}
            entries.append({"ds": ds, "stage": stage, "what": what, "reasons": reasons})
    return entries


def _report_file(kind: str, pipeline: str, key: str) -> str | None:
    """URI of a published report's HTML (``kind`` drift: ``key`` a day; gate: a version number)."""
    if not PIPELINE.match(pipeline):
        return None
    if kind == "drift" and DAY.match(key):
        folder = lake.drift_report(pipeline, key)
        published = storage.exists(f"{folder}/{lake.MANIFEST_FILE}")  # a report without a manifest is not
        uri = f"{folder}/{lake.DRIFT_REPORT}.html" if published else None
    elif kind == "gate" and key.isdigit():
        uri = f"{lake.gate_report(pipeline, int(key))}/{lake.GATE_REPORT}.html"
    else:
        uri = None
    return uri if uri and storage.exists(uri) else None


# ---- the plugin's own pages (login) -----------------------------------------------------------


def _index(request: Request) -> HTMLResponse:
    names = {*storage.list_names(lake.reports()), *storage.list_names(lake.quarantined())}
    pipelines = sorted(p for p in names if PIPELINE.match(p))
    return pages.overview(_base(request), {p: (_drift_days(p), _gate_versions(p), _quarantine(p)) for p in pipelines})


def _drift_report(request: Request, pipeline: str, ds: str) -> Response:
    base = _base(request)
    if _report_file("drift", pipeline, ds) is None:
        return _not_found(request, f"No drift report of {pipeline} for {ds} (the monitor has not published one).")
    meta = json.loads(_read(f"{lake.drift_report(pipeline, ds)}/{lake.MANIFEST_FILE}") or b"{}")
    banner = (f"<b>Drift report</b> · {escape(pipeline)} · {escape(ds)} · "
              f"<b>{'DRIFT' if meta.get('drift') else 'no drift'}</b> (share {pages.share(meta.get('share'))}) · "
              f"champion v{escape(str(meta.get('champion', '?')))} · "
              f"{pages.link(base, 'reports', '', text='all reports', fragment=pipeline)} · "
              f"{pages.link(base, 'reports', pipeline, 'drift', ds, 'json', text='JSON')}")
    src = sandbox.content_url(base, sandbox.grant("drift", pipeline, ds), f"{lake.DRIFT_REPORT}.html")
    return pages.framed(f"Drift report {pipeline} {ds}", banner, src)


def _drift_json(request: Request, pipeline: str, ds: str) -> Response:
    if _report_file("drift", pipeline, ds) is None:
        return _not_found(request, f"No drift report of {pipeline} for {ds} (the monitor has not published one).")
    body = _read(f"{lake.drift_report(pipeline, ds)}/{lake.DRIFT_REPORT}.json")
    if body is None:
        return _not_found(request, f"The drift report of {pipeline} for {ds} has no JSON.")
    return Response(body, media_type="application/json", headers=sandbox.data_headers())


def _gate_report(request: Request, pipeline: str, version: int) -> Response:
    base = _base(request)
    if _report_file("gate", pipeline, str(version)) is None:
        return _not_found(request, f"No gate report of {pipeline} version {version} (it was not evaluated yet).")
    banner = (f"<b>Evidently gate report</b> · {escape(pipeline)} · model version {version} · "
              "current = challenger, reference = champion, on the same holdout; the gate's tests and intervals "
              f"are at the top · {pages.link(base, 'reports', pipeline, 'card', f'v{version}', text='model card')} · "
              f"{pages.link(base, 'reports', '', text='all reports', fragment=pipeline)}")
    src = sandbox.content_url(base, sandbox.grant("gate", pipeline, str(version)), f"{lake.GATE_REPORT}.html")
    return pages.framed(f"Gate report {pipeline} v{version}", banner, src)


def _model_card(request: Request, pipeline: str, version: int) -> Response:
    raw = _read(f"{lake.model_card(pipeline, version)}/{lake.MODEL_CARD}.json") if PIPELINE.match(pipeline) else None
    if raw is None:
        return _not_found(request, f"No model card of {pipeline} version {version} (it was not evaluated yet).")
    card = json.loads(raw)
    return pages.page(f"Model card {pipeline} v{version}", model_card.html(card), _base(request))


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
    if safe_file(root, path) is None:
        return _not_found(request, "No such Data Docs page." if root.exists()
                          else "No Data Docs yet: they are built when a day is validated.")
    base = _base(request)
    banner = (f"<b>GX Data Docs</b> · validation results of every pipeline · "
              f"{pages.link(base, 'reports', '', text='drift & gate reports')}")
    return pages.framed("GX Data Docs", banner, sandbox.content_url(base, sandbox.grant("docs"), path))


# ---- content built from data (signed URL, sandboxed) and public assets ------------------------


def _content(request: Request, token: str, path: str) -> Response:
    headers = sandbox.content_headers()
    try:
        kind, *key = sandbox.read_token(token)
    except sandbox.ContentRefused as exc:
        return HTMLResponse(f"<!doctype html><meta charset='utf-8'><p>{escape(str(exc))}</p>", 403, headers=headers)
    if kind == "docs":
        return _data_docs_file(request, path, headers)
    if kind == "overview" and len(key) == 2 and PIPELINE.match(key[0]) and path == "charts.html":
        return HTMLResponse(overview.charts_route(_base(request), key[0]),
                            headers=headers)
    uri = _report_file(kind, *key) if len(key) == 2 else None
    expected = {"drift": lake.DRIFT_REPORT, "gate": lake.GATE_REPORT}.get(kind)
    body = _read(uri) if uri and path == f"{expected}.html" else None
    if body is None:
        return HTMLResponse("<!doctype html><meta charset='utf-8'><p>No such report.</p>", 404, headers=headers)
    # reports written before report_html existed still carry raw "<" in their embedded data
    html = report_html.escape_embedded_json(body.decode("utf-8", errors="replace"))
    return HTMLResponse(sandbox.with_storage(html), headers=headers)


def _data_docs_file(request: Request, path: str, headers: dict[str, str]) -> Response:
    target = safe_file(quality.data_docs_index().parent, path)
    if target is None:
        return HTMLResponse("<!doctype html><meta charset='utf-8'><p>No such Data Docs page.</p>", 404,
                            headers=headers)
    if target.suffix in (".html", ".htm"):
        base = _base(request)
        html = rewrite_cdn_urls(target.read_text(encoding="utf-8", errors="replace"), f"{base}/static/vendor",
                                f"{base}/static/gx")
        return HTMLResponse(sandbox.with_storage(html), headers=headers)
    return FileResponse(target, media_type=mimetypes.guess_type(target.name)[0] or "application/octet-stream",
                        headers=headers)


def _vendor(request: Request, path: str, root: Path | None = VENDOR_DIR) -> Response:
    target = safe_file(root, path) if root else None
    if target is None:
        return Response(status_code=404, headers=sandbox.static_headers())
    return FileResponse(target, media_type=mimetypes.guess_type(target.name)[0] or "application/octet-stream",
                        headers=sandbox.static_headers())


async def _refused(request: Request, exc: NotAuthenticated) -> Response:
    """401/403: a login link for a browser, JSON for an API client."""
    if "text/html" in request.headers.get("accept", ""):
        login = escape(login_url(request))
        return pages.page("Log in to Airflow", f"<p>{escape(str(exc.detail))}.</p><p><a href='{login}'>Log in</a></p>",
                          _base(request), status_code=exc.status_code)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


def _home(request: Request) -> Response:
    return overview.pipelines_route(_base(request))


def _pipeline(request: Request, pipeline: str) -> Response:
    if not PIPELINE.match(pipeline) or pipeline not in overview_data.pipelines():
        return _not_found(request, f"No pipeline '{pipeline}' has data in the lake.")
    return overview.pipeline_route(_base(request), pipeline)


def _unknown(request: Request, path: str) -> Response:
    return _not_found(request, "No such page.")


def _gx_image(request: Request, path: str) -> Response:
    return _vendor(request, path, gx_images_dir())


def _user_routes() -> APIRouter:
    """The routes behind :func:`~mlcycle.orchestration.ui.auth.require_user`; the catch-all last."""
    router = APIRouter(dependencies=[Depends(require_user)])
    router.add_api_route("/", _home, include_in_schema=False)
    router.add_api_route("/pipelines/{pipeline}", _pipeline)
    router.add_api_route("/reports/", _index)
    router.add_api_route("/reports/{pipeline}/drift/{ds}", _drift_report)
    router.add_api_route("/reports/{pipeline}/drift/{ds}/json", _drift_json)
    router.add_api_route("/reports/{pipeline}/gate/v{version}", _gate_report)
    router.add_api_route("/reports/{pipeline}/card/v{version}", _model_card)
    router.add_api_route("/data-docs/{path:path}", _data_docs)
    router.add_api_route("/{path:path}", _unknown, include_in_schema=False)  # unknown pages need a login too
    return router


def create_app() -> FastAPI:
    """The app: public content (signed URLs) and assets, then the routes that need an Airflow user."""
    app = FastAPI(title="mlcycle reports", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(NotAuthenticated, _refused)
    app.add_middleware(sandbox.SecurityHeaders)
    app.add_api_route("/content/{token}/{path:path}", _content)
    app.add_api_route("/static/vendor/{path:path}", _vendor)
    app.add_api_route("/static/gx/{path:path}", _gx_image)
    app.include_router(_user_routes())
    return app
