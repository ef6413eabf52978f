"""The Airflow plugin: the operator extra links, the reports app and the navigation entries.

- ``fastapi_apps``: :mod:`mlcycle.orchestration.ui` at ``/mlcycle`` of the API server (Evidently drift and gate
  reports from the lake, GX Data Docs with vendored assets), authenticated with Airflow's auth manager;
  the pages built from data run as sandboxed content (:mod:`mlcycle.orchestration.ui.sandbox`).
- ``external_views``: "Drift reports" and "Data quality" open those pages in the Airflow UI's frame;
  "Model registry" opens the MLflow UI (``$MLFLOW_UI_URL``, else ``$MLFLOW_TRACKING_URI``, read here,
  when the plugin loads).

Loading it does no DB query, no connection look-up and imports nothing heavy (FastAPI included: the
app is built on its first request).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mlcycle import settings
from mlcycle.orchestration.links import DriftReportLink, GateReportLink, MlflowRunLink, ModelVersionLink, airflow_url
from mlcycle.orchestration.ui import DATA_DOCS_ROUTE, OVERVIEW_ROUTE, REPORTS_ROUTE, URL_PREFIX, LazyApp


def _icon(path: str) -> str:
    """A 24px line icon as a data URI (the nav shows it as an image; no request, no login needed)."""
    from urllib.parse import quote

    svg = ("<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' stroke='#64748b' "
           f"stroke-width='2' stroke-linecap='round' stroke-linejoin='round'><path d='{path}'/></svg>")
    return f"data:image/svg+xml,{quote(svg)}"


DRIFT_ICON = _icon("M3 3v18h18 M7 15l4-4 3 3 6-7")
QUALITY_ICON = _icon("M9 11l3 3 8-8 M20 12v7a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h9")
OVERVIEW_ICON = _icon("M3 12h4l3-8 4 16 3-8h4")
REGISTRY_ICON = _icon("M21 8l-9-5-9 5 9 5 9-5z M3 8v8l9 5 9-5V8 M12 13v8")


def _external_views() -> list[dict[str, object]]:
    from urllib.parse import urlsplit

    root = urlsplit(airflow_url()).path.rstrip("/")  # Airflow served under a sub-path: the frame needs it
    views = [
        {"name": "Pipelines", "href": f"{root}{URL_PREFIX}/", "url_route": OVERVIEW_ROUTE, "destination": "nav",
         "nav_top_level": True, "icon": OVERVIEW_ICON},
        {"name": "Drift reports", "href": f"{root}{URL_PREFIX}/reports/", "url_route": REPORTS_ROUTE,
         "destination": "nav", "nav_top_level": True, "icon": DRIFT_ICON},
        {"name": "Data quality", "href": f"{root}{URL_PREFIX}/data-docs/", "url_route": DATA_DOCS_ROUTE,
         "destination": "nav", "nav_top_level": True, "icon": QUALITY_ICON},
    ]
    if mlflow := settings.mlflow_ui_url():  # another origin, which may refuse frames: a plain link (new tab)
        views.append({"name": "Model registry", "href": f"{mlflow}/#/models", "destination": "nav",
                      "nav_top_level": True, "icon": REGISTRY_ICON})
    return views


class MlcyclePlugin(AirflowPlugin):
    name = "mlcycle"
    operator_extra_links = [MlflowRunLink(), ModelVersionLink(), GateReportLink(), DriftReportLink()]
    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "mlcycle reports and data quality"}]
    external_views = _external_views()
