"""A small client of Airflow's public REST API (``/api/v2``), for the demo, the tests and alerts."""

from __future__ import annotations

import time
from typing import Any

import httpx

FINISHED = {"success", "failed"}


class AirflowAPIError(RuntimeError):
    """The API refused or could not be reached; the message says which and why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AirflowClient:
    """Authenticates with a username and password and calls ``/api/v2``."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        try:
            response = httpx.post(f"{self.base_url}/auth/token", json={"username": username, "password": password},
                                  timeout=timeout)
        except httpx.TransportError as exc:
            raise AirflowAPIError(f"cannot reach Airflow at {self.base_url} ({exc}); is it running? "
                                  "(`make status`)") from exc
        if response.status_code >= 400:
            raise AirflowAPIError(f"login to {self.base_url} as '{username}' failed: HTTP {response.status_code}")
        self._http = httpx.Client(base_url=f"{self.base_url}/api/v2", timeout=timeout,
                                  headers={"Authorization": f"Bearer {response.json()['access_token']}"})

    def request(self, method: str, path: str, retries: int = 5, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        for attempt in range(retries):
            # SQLite (embedded mode) answers 503 while the scheduler holds its lock; GET /assets/events
            # answers 500 while an event's triggered run is queued (no start_date yet): both pass
            if response.status_code != 503 and not (response.status_code == 500 and method == "GET"):
                break
            time.sleep(2 + 2 * attempt)
            response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise AirflowAPIError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}",
                                  response.status_code)
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, json=body)

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.get(f"/dags/{dag_id}/dagRuns", limit=1000, order_by="logical_date")["dag_runs"]

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180) -> None:
        """Wait until the DAG processor has parsed every DAG; report import errors at once."""
        deadline = time.monotonic() + timeout
        while True:
            errors = self.get("/importErrors")["import_errors"]
            if errors:
                raise AirflowAPIError("DAG import errors:\n" + "\n".join(
                    f"{e['filename']}: {e['stack_trace'].strip().splitlines()[-1]}" for e in errors))
            known = {d["dag_id"] for d in self.get("/dags", limit=1000)["dags"]}
            if set(dag_ids) <= known:
                return
            if time.monotonic() > deadline:
                raise AirflowAPIError(f"DAGs {sorted(set(dag_ids) - known)} did not appear within {timeout:.0f}s")
            time.sleep(3)

    def run_days(self, dag_id: str, days: list[str]) -> list[dict[str, Any]]:
        """One run of ``dag_id`` per day (logical date = the day), for the scheduler to execute.

        Like ``airflow backfill create``, which Airflow refuses on SQLite while the scheduler is busy.
        A day that already has a run is left as it is.
        """
        existing = {r["logical_date"][:10] for r in self.dag_runs(dag_id)}
        return [self.trigger(dag_id, logical_date=f"{day}T00:00:00Z") for day in days if day not in existing]

    def scheduler_healthy(self) -> bool:
        health = self.request("GET", "/monitor/health")
        return health.get("scheduler", {}).get("status") == "healthy"

    def asset_id(self, uri: str) -> int:
        """The id Airflow gave the Asset with this URI (it knows it once a DAG using it was parsed)."""
        assets = self.get("/assets", uri_pattern=uri, limit=100)["assets"]
        match = [a["id"] for a in assets if a["uri"] == uri]
        if not match:
            raise AirflowAPIError(f"Airflow knows no Asset with URI {uri}; check the pipeline name, and that "
                                  "its DAGs are parsed (`GET /api/v2/assets`)")
        return match[0]

    def create_asset_event(self, uri: str, extra: dict[str, Any]) -> dict[str, Any]:
        """Record an event on the Asset at ``uri``, as if a task had produced it; consumers are scheduled."""
        return self.post("/assets/events", {"asset_id": self.asset_id(uri), "extra": extra})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: str | None = None
                ) -> dict[str, Any]:
        """Start a run; a logical date that has a run already is refused with what to do instead."""
        try:
            return self.post(f"/dags/{dag_id}/dagRuns", {"conf": conf or {}, "logical_date": logical_date})
        except AirflowAPIError as exc:
            if exc.status != 409 or not logical_date:
                raise
            raise AirflowAPIError(f"{dag_id} has a run for the logical date {logical_date} already, and a date runs "
                                  "once: clear that run in the Airflow UI (Clear, with its tasks) to run it again, "
                                  "or trigger without a logical date (ingest: From / To in the form)", 409) from exc
