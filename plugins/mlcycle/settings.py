"""Where things live, and every environment variable the product reads: nowhere else reads one.

Each location comes from the environment, with embedded-mode defaults.

Embedded mode keeps all state under one git-ignored folder, ``$MLCYCLE_HOME`` (default
``<repo>/.state``); compose and cloud modes point the same variables at S3 and servers.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = REPO_ROOT / "include"
PROMOTION_POOL = "mlcycle_promotion"  # one slot: champion moves one at a time


def state_dir() -> Path:
    """Root of all embedded-mode state (databases, lake, DVC, reports)."""
    return Path(os.environ.get("MLCYCLE_HOME", REPO_ROOT / ".state")).resolve()


def lake_uri() -> str:
    """Root URI of the lake: ``file://...`` here, ``s3://bucket/prefix`` in production."""
    return os.environ.get("MLCYCLE_LAKE_URI", f"file://{state_dir() / 'lake'}").rstrip("/")


def landing_uri() -> str:
    """Root URI of the landing zone where upstream systems drop daily files."""
    return os.environ.get("MLCYCLE_LANDING_URI", f"file://{state_dir() / 'landing'}").rstrip("/")


def dvc_repo_dir() -> Path:
    """Local DVC workspace that versions every lake partition."""
    return Path(os.environ.get("MLCYCLE_DVC_REPO", state_dir() / "dvc"))


def dvc_remote_uri() -> str:
    """DVC remote: a local folder here, an S3 prefix in production."""
    return os.environ.get("MLCYCLE_DVC_REMOTE", str(state_dir() / "dvc-remote"))


def pipelines_dir() -> Path:
    """Folder of pipeline configs, one YAML file per pipeline."""
    return Path(os.environ.get("MLCYCLE_PIPELINES_DIR", INCLUDE_DIR / "pipelines"))


def gx_project_dir() -> Path:
    """Versioned Great Expectations project: config template and expectation suites."""
    return Path(os.environ.get("MLCYCLE_GX_DIR", INCLUDE_DIR / "gx"))


def gx_runtime_dir() -> Path:
    """Runtime root of the GX file context: validation results and Data Docs."""
    return state_dir() / "gx"


def mlflow_tracking_uri() -> str:
    """The MLflow tracking server every client talks to."""
    return os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")


def mlflow_ui_url() -> str | None:
    """Base URL of the MLflow UI for links (``$MLFLOW_UI_URL``, e.g. behind a proxy, else the tracking
    server); None when the tracking URI is no web server (a local ``sqlite://`` or file store)."""
    url = os.environ.get("MLFLOW_UI_URL") or mlflow_tracking_uri()
    return url.rstrip("/") if url.startswith(("http://", "https://")) else None


def mlflow_auth() -> bool:
    """Embedded mode: run the local ``mlflow server`` with MLflow's basic-auth app (``MLCYCLE_MLFLOW_AUTH=1``)."""
    return os.environ.get("MLCYCLE_MLFLOW_AUTH", "").strip().lower() in ("1", "true", "yes", "on")


def mlflow_client_password() -> str | None:
    """The password MLflow clients send (``$MLFLOW_TRACKING_PASSWORD``, read by MLflow itself); tasks mask it."""
    return os.environ.get("MLFLOW_TRACKING_PASSWORD") or None


def mlflow_admin() -> tuple[str | None, str | None]:
    """The auth app's admin (``$MLFLOW_AUTH_ADMIN_USERNAME``, ``$MLFLOW_AUTH_ADMIN_PASSWORD``, MLflow's own names)."""
    return os.environ.get("MLFLOW_AUTH_ADMIN_USERNAME") or None, os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD") or None


def mlflow_service_account() -> tuple[str, str | None]:
    """The pipeline's MLflow account: ``$MLCYCLE_MLFLOW_SERVICE_USERNAME`` (default ``mlcycle-pipeline``) and
    ``$MLCYCLE_MLFLOW_SERVICE_PASSWORD``."""
    return (os.environ.get("MLCYCLE_MLFLOW_SERVICE_USERNAME") or "mlcycle-pipeline",
            os.environ.get("MLCYCLE_MLFLOW_SERVICE_PASSWORD") or None)


def code_version() -> str:
    """The code version to record where there is no git checkout (an image): ``$MLCYCLE_CODE_VERSION``."""
    return os.environ.get("MLCYCLE_CODE_VERSION", "unknown")


def aws_conn_id() -> str:
    """The Airflow connection that says how to reach S3 (lake, landing, DVC remote, SQS)."""
    return os.environ.get("MLCYCLE_AWS_CONN_ID", "aws_default")


def notifications_file() -> Path:
    """Where every notification is appended as a JSON line."""
    return Path(os.environ.get("MLCYCLE_NOTIFICATIONS_FILE", state_dir() / "notifications.jsonl"))


def notify_email() -> list[str]:
    """Recipients of e-mail notifications (comma-separated ``$MLCYCLE_NOTIFY_EMAIL``)."""
    return [r.strip() for r in os.environ.get("MLCYCLE_NOTIFY_EMAIL", "").split(",") if r.strip()]


def embedded_ports() -> tuple[int, int]:
    """Ports of the embedded Airflow and MLflow (``$AIRFLOW_PORT``, ``$MLFLOW_PORT``)."""
    return int(os.environ.get("AIRFLOW_PORT", 8080)), int(os.environ.get("MLFLOW_PORT", 5000))


def embedded_database() -> str:
    """The embedded stack's database: ``postgres`` (default, a server installed with the lock) or ``sqlite``
    (``$MLCYCLE_DATABASE=sqlite``, an explicit opt-in for development only)."""
    kind = os.environ.get("MLCYCLE_DATABASE", "postgres").strip().lower() or "postgres"
    if kind not in ("postgres", "sqlite"):
        raise ValueError(f"MLCYCLE_DATABASE={kind!r}: use postgres (the default) or sqlite")
    return kind


def database_url() -> str | None:
    """An external PostgreSQL server for the embedded stack (``$MLCYCLE_DATABASE_URL``, e.g.
    ``postgresql://user:password@db.example.com:5432``); unset: the embedded server."""
    return os.environ.get("MLCYCLE_DATABASE_URL", "").strip() or None


def embedded_parallelism() -> int:
    """Task slots of the embedded LocalExecutor (``$MLCYCLE_PARALLELISM``, default 4 for 2 cores)."""
    return int(os.environ.get("MLCYCLE_PARALLELISM", "4"))


def task_preload() -> bool:
    """Whether the embedded scheduler preloads the stages' libraries for its task processes
    (``$MLCYCLE_TASK_PRELOAD``, default on; ``0`` turns it off)."""
    return os.environ.get("MLCYCLE_TASK_PRELOAD", "1").strip().lower() not in ("0", "false", "no", "off")


def airflow_api(default_url: str) -> tuple[str, str | None, str | None]:
    """Airflow's REST API for the alert CLI: ``$AIRFLOW_URL``, ``$AIRFLOW_USERNAME``, ``$AIRFLOW_PASSWORD``."""
    return (os.environ.get("AIRFLOW_URL", default_url), os.environ.get("AIRFLOW_USERNAME"),
            os.environ.get("AIRFLOW_PASSWORD"))


def search_path(name: str, *first: str) -> str:
    """A PATH-like variable for a child process: ``first``, then what this process inherited."""
    return os.pathsep.join([*first, *filter(None, [os.environ.get(name)])])


def quiet_third_parties() -> None:
    """No analytics from GX and DVC, and no MLflow download progress bars, whatever process imports them."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def drift_queue_url(pipeline: str) -> str | None:
    """SQS queue whose messages raise ``drift.<pipeline>`` (unset: no queue). ``{pipeline}`` in
    ``$MLCYCLE_DRIFT_QUEUE_URL`` gives each pipeline its own queue."""
    url = os.environ.get("MLCYCLE_DRIFT_QUEUE_URL", "").strip()
    return url.replace("{pipeline}", pipeline) if url else None


def drift_queue_poll_seconds() -> int:
    """Pause between two empty receives of the drift queue watcher."""
    return int(os.environ.get("MLCYCLE_DRIFT_QUEUE_POLL_SECONDS", "30"))


def reports_origin() -> str | None:
    """Origin (``https://reports.example.com``) that serves the sandboxed report pages; unset: Airflow's own.

    ``$MLCYCLE_REPORTS_ORIGIN`` should be a host of its own behind the reverse proxy (forwarding
    ``/mlcycle/content/`` and ``/mlcycle/static/`` to the API server), so a report never shares an origin,
    and so cookies, with the Airflow UI.
    """
    origin = os.environ.get("MLCYCLE_REPORTS_ORIGIN", "").strip().rstrip("/")
    if not origin:
        return None
    scheme, sep, host = origin.partition("://")
    if scheme not in ("http", "https") or not sep or not host or any(c in host for c in "/?#@ "):
        raise ValueError(f"MLCYCLE_REPORTS_ORIGIN={origin!r} is not an origin like https://reports.example.com")
    return origin


def content_url_seconds() -> int:
    """How long a signed URL of a sandboxed report page stays valid (``$MLCYCLE_CONTENT_URL_SECONDS``)."""
    return int(os.environ.get("MLCYCLE_CONTENT_URL_SECONDS", "900"))


# --- the serving app (mlcycle.serving) ---

def serving_host() -> str:
    """Interface the serving app binds (``$MLCYCLE_SERVING_HOST``): 127.0.0.1 embedded, 0.0.0.0 in a container."""
    return os.environ.get("MLCYCLE_SERVING_HOST", "127.0.0.1")


def serving_port() -> int:
    """Port of the serving app (``$MLCYCLE_SERVING_PORT``, default 8000)."""
    return int(os.environ.get("MLCYCLE_SERVING_PORT", "8000"))


def serving_url() -> str:
    """Where the register and rollback tasks reach the serving app (``$MLCYCLE_SERVING_URL``)."""
    return os.environ.get("MLCYCLE_SERVING_URL", f"http://127.0.0.1:{serving_port()}").rstrip("/")


def serving_api_key() -> str | None:
    """The key clients send as ``X-API-Key`` to ``/predict`` and ``/reload`` (``$MLCYCLE_SERVING_API_KEY``)."""
    return os.environ.get("MLCYCLE_SERVING_API_KEY", "").strip() or None


def serving_pipelines() -> list[str]:
    """Pipelines the app serves (comma-separated ``$MLCYCLE_SERVING_PIPELINES``); empty: every one with training."""
    return [p.strip() for p in os.environ.get("MLCYCLE_SERVING_PIPELINES", "").split(",") if p.strip()]


def serving_workers() -> int:
    """Server processes (``$MLCYCLE_SERVING_WORKERS``, default 1); each polls the alias and swaps on its own."""
    return int(os.environ.get("MLCYCLE_SERVING_WORKERS", "1"))


def serving_poll_seconds() -> float:
    """How often each server process reads the ``champion`` alias (``$MLCYCLE_SERVING_POLL_SECONDS``)."""
    return float(os.environ.get("MLCYCLE_SERVING_POLL_SECONDS", "10"))


def serving_flush_seconds() -> float:
    """How often the request log is written to the lake (``$MLCYCLE_SERVING_FLUSH_SECONDS``): what a kill -9
    can lose is at most this many seconds of requests."""
    return float(os.environ.get("MLCYCLE_SERVING_FLUSH_SECONDS", "5"))


def serving_limits() -> tuple[int, int]:
    """Largest request body in bytes and most rows per request (``$MLCYCLE_SERVING_MAX_BODY_BYTES``, default
    1 MiB; ``$MLCYCLE_SERVING_MAX_ROWS``, default 1000)."""
    return (int(os.environ.get("MLCYCLE_SERVING_MAX_BODY_BYTES", str(1 << 20))),
            int(os.environ.get("MLCYCLE_SERVING_MAX_ROWS", "1000")))


def prometheus_multiproc_dir() -> str | None:
    """prometheus_client's multiprocess folder (``$PROMETHEUS_MULTIPROC_DIR``, its own name), set with several
    serving processes."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
def observe_ports() -> tuple[int, int, int]:
    """Ports of the metrics exporter, Prometheus (``make observe``) and the serving app it scrapes
    (``$MLCYCLE_EXPORTER_PORT`` 9477, ``$MLCYCLE_PROMETHEUS_PORT`` 9090, ``$MLCYCLE_SERVING_PORT`` 8000)."""
    return (int(os.environ.get("MLCYCLE_EXPORTER_PORT", 9477)), int(os.environ.get("MLCYCLE_PROMETHEUS_PORT", 9090)),
            serving_port())


def statsd_address() -> tuple[str, int] | None:
    """Where Airflow sends its StatsD metrics (``$MLCYCLE_STATSD_ADDRESS``, ``host:port``, e.g. a Prometheus
    statsd_exporter); unset: Airflow emits none."""
    address = os.environ.get("MLCYCLE_STATSD_ADDRESS", "").strip()
    if not address:
        return None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"MLCYCLE_STATSD_ADDRESS={address!r} is not host:port, e.g. 127.0.0.1:9125")
    return host, int(port)
