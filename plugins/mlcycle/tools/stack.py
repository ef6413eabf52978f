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
        **statsd_env(),
    }


def statsd_env() -> dict[str, str]:
    """Airflow's StatsD metrics to :func:`mlcycle.settings.statsd_address`, when it is set (none otherwise)."""
    address = settings.statsd_address()
    if address is None:
        return {}
    return {"AIRFLOW__METRICS__STATSD_ON": "True", "AIRFLOW__METRICS__STATSD_HOST": address[0],
            "AIRFLOW__METRICS__STATSD_PORT": str(address[1]), "AIRFLOW__METRICS__STATSD_PREFIX": "airflow"}


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

    down: tuple[str, ...] = ()  # the components still not healthy, when components were waited for


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


def embedded_airflow_env(port: int, passwords_file: Path, username: str) -> dict[str, str]:
    """Airflow's settings in the embedded stack: LocalExecutor, SimpleAuthManager with ``username`` (admin),
    the API server on 127.0.0.1:``port``, no HTTP server but the API server's (the scheduler's health check
    is off and bound to 127.0.0.1; the log servers are not started: every component shares the disk), and
    recovery of orphaned tasks within minutes instead of Airflow's 5."""
    url = f"http://127.0.0.1:{port}"
    return {
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{username}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "60",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "120",
    }


def task_start_env(preload: bool) -> dict[str, str]:
    """How the scheduler's LocalExecutor starts task processes. Each task process is forked from an executor
    worker; with ``preload`` the workers come from a ``forkserver`` that imported, once, what tasks import
    (:mod:`mlcycle.orchestration.preload`: the stages' heavy libraries, Airflow's task runner), so a task
    inherits them instead of paying seconds of imports (Airflow's ``[scheduler] mp_start_method`` and
    ``mp_forkserver_preload``). Without it, Python's default: workers forked from the scheduler, which
    has imported none of them."""
    if not preload:
        return {}
    return {"AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
            "AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD": "mlcycle.orchestration.preload"}


def sizing_env(parallelism: int) -> dict[str, str]:
    """Task slots and database connections for a small machine (2 cores): ``parallelism`` tasks at once, in
    the executor, per DAG and in the default pool; at most 3 + 7 connections per Airflow component but the
    API server (:data:`API_SERVER_POOL`)."""
    slots = str(parallelism)
    return {
        "AIRFLOW__CORE__PARALLELISM": slots,
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": slots,
        "AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT": slots,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "7",
    }


# The API server's pool may grow without a limit. Its request threads (40) each hold a connection, and its
# event loop takes one too (the audit log of a request, airflow/api_fastapi/logging/decorators.py): with a
# bounded pool, a burst of 20 REST calls fills it, the loop waits for a connection, and the threads that
# hold them wait for the loop, until every client times out (measured: 20 concurrent asset events).
API_SERVER_POOL = {"AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "5", "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "-1"}
