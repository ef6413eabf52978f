"""The mlcycle pages inside Airflow: Evidently drift and gate reports, and GX Data Docs.

A FastAPI app that the plugin mounts at :data:`URL_PREFIX` of the Airflow API server. It is built
on the first request (:class:`LazyApp`), so loading the plugin in a DAG processor or a worker
imports nothing of FastAPI.
"""

from __future__ import annotations

from typing import Any

URL_PREFIX = "/mlcycle"
REPORTS_ROUTE = "mlcycle-reports"  # the Airflow UI shows external views at /plugin/<url_route>
DATA_DOCS_ROUTE = "mlcycle-data-quality"
OVERVIEW_ROUTE = "mlcycle-overview"


class LazyApp:
    """An ASGI app that builds :func:`mlcycle.orchestration.ui.app.create_app` when the first request arrives."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._app is None:
            from mlcycle.orchestration.ui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)

    def __repr__(self) -> str:
        return "mlcycle.orchestration.ui.app:create_app"
