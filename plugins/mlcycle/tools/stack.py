"""One definition of the local stack, for the runtime, the tests and the benchmarks.

- :func:`stack_env`: the environment of every process of a stack whose state lives under one folder
  (MLCYCLE_HOME, AIRFLOW_HOME, its metadata DB, the DAG and plugin folders, no analytics);
- :func:`mlflow_command`: the ``mlflow server`` command line;
- :func:`free_port`, :func:`http_ok` and :func:`poll_until`: picking ports and waiting for services.
"""

from __future__ import annotations

import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mlcycle import settings

VENV_BIN = Path(sys.executable).parent
T = TypeVar("T")
# The MLflow job runner (six huey consumers, for GenAI jobs) serves nothing the model registry needs.
MLFLOW_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def stack_env(home: Path, airflow_home: Path | None = None, database_uri: str | None = None) -> dict[str, str]:
    """Environment of a stack whose state is under ``home``: Airflow's home and metadata DB (default SQLite
    in ``<home>/airflow``), the repository's DAGs and plugins, this venv first on PATH, no analytics."""
    repo = settings.REPO_ROOT
    airflow_home = airflow_home or home / "airflow"
    return {
        "MLCYCLE_HOME": str(home),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_uri or f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(repo / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(repo / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "GX_ANALYTICS_ENABLED": "false",
        "DVC_NO_ANALYTICS": "1",
        "PYTHONPATH": settings.search_path("PYTHONPATH", str(repo / "plugins")),
        "PATH": settings.search_path("PATH", str(VENV_BIN)),
        **MLFLOW_ENV,
    }


def mlflow_command(port: int, backend_uri: str, artifacts: str, auth: bool = False) -> list[str]:
    """``mlflow server`` on 127.0.0.1:``port`` with one worker, proxying artifacts to ``artifacts``; ``auth``:
    behind MLflow's basic-auth app (configured through the environment, see :mod:`mlcycle.tools.mlflow_auth`)."""
    return [str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", backend_uri, "--artifacts-destination", artifacts, "--workers", "1",
            *(["--app-name", "basic-auth"] if auth else [])]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str, timeout: float = 3) -> bool:
    """Whether ``url`` answers 2xx without saying "unhealthy" (Airflow's and MLflow's health pages)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300 and "unhealthy" not in response.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


class NotReady(TimeoutError):
    """What :func:`poll_until` waited for did not come; the message says what and for how long."""


def poll_until(check: Callable[[], T], timeout: float, what: str, interval: float = 1.0,
               still_alive: Callable[[], str | None] | None = None) -> T:
    """Call ``check`` until it returns something truthy, and return that.

    ``still_alive`` returns None while the awaited process lives, else why it died: then, or after
    ``timeout`` seconds, :class:`NotReady` says so.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        death = still_alive() if still_alive else None
        if death:
            raise NotReady(f"{what}: {death}")
        if time.monotonic() > deadline:
            raise NotReady(f"{what}: not ready within {timeout:.0f}s")
        time.sleep(interval)
