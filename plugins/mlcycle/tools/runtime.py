"""Embedded runtime: PostgreSQL, MLflow and Airflow's components as supervised local processes.

The components, in start order: ``postgres`` (the embedded server, unless ``$MLCYCLE_DATABASE_URL`` names
an external one), ``databases`` (creates the ``airflow`` and ``mlflow`` databases), ``mlflow``,
``migrate`` (``airflow db migrate``), then Airflow's ``api-server``, ``scheduler`` (LocalExecutor),
``dag-processor`` and ``triggerer``, and the online ``serving`` app (:mod:`mlcycle.serving`, on 127.0.0.1,
``$MLCYCLE_SERVING_PORT``, default 8000; its API key is ``$MLCYCLE_SERVING_API_KEY`` or one generated
per state folder). A supervisor daemon (:mod:`mlcycle.tools.supervisor`) starts them,
gives each its own log under ``<state>/logs`` and restarts any that exits, with backoff, for as long as
the stack runs. All state lives under ``$MLCYCLE_HOME`` (default ``<repo>/.state``).

With ``MLCYCLE_MLFLOW_AUTH=1``, MLflow runs behind its basic-auth app: an admin and the pipeline's service
account, with passwords generated once per state folder; everyone else reads only.

``$MLCYCLE_DATABASE=sqlite`` is the opt-in for SQLite instead of PostgreSQL (development only: see
:data:`SQLITE_WARNING`).

Usage: ``python -m mlcycle.tools.runtime {start,stop,status,env}``
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcycle import settings
from mlcycle.tools import mlflow_auth, postgres, stack

USERNAME = "admin"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
AIRFLOW_JOBS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}
SQLITE_WARNING = ("warning: MLCYCLE_DATABASE=sqlite: Airflow and MLflow on SQLite are for development only. "
                  "SQLite takes one writer at a time: a burst of REST calls or alerts answers HTTP 500/503 "
                  "('database is locked'), and the scheduler, DAG processor or triggerer can exit on it (the "
                  "supervisor restarts them). Unset MLCYCLE_DATABASE for the embedded PostgreSQL server.")


@dataclass(frozen=True)
class Runtime:
    """Ports, database and state folder of one embedded stack (the demo's, or a test's on free ports)."""

    home: Path
    airflow_port: int = 8080
    mlflow_port: int = 5000
    database: str = "postgres"  # or "sqlite" (opt-in, development only)
    database_url: str | None = None  # an external PostgreSQL server instead of the embedded one
    parallelism: int = 4  # LocalExecutor task slots: sized for 2 cores (see the README, "Sizing")
    with_mlflow: bool = True
    config: Mapping[str, str] = field(default_factory=dict)  # more AIRFLOW__* settings (tests: short timeouts)
    mlflow_auth: bool = False  # MLflow behind its basic-auth app
    serving_port: int | None = None  # the serving app's port; None: no serving component (tests' stacks)
    preload: bool = True  # task processes inherit the stages' libraries (stack.task_start_env)

    @classmethod
    def from_env(cls) -> Runtime:
        return cls(settings.state_dir(), *settings.embedded_ports(), database=settings.embedded_database(),
                   database_url=settings.database_url(), parallelism=settings.embedded_parallelism(),
                   mlflow_auth=settings.mlflow_auth(), serving_port=settings.serving_port(),
                   preload=settings.task_preload())

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def serving_url(self) -> str:
        return f"http://127.0.0.1:{self.serving_port}"

    def serving_key(self) -> str:
        """The serving app's API key: ``$MLCYCLE_SERVING_API_KEY``, else one generated once per state folder."""
        return settings.serving_api_key() or _generated(self.home / "serving" / "api_key.json", "api_key")["api_key"]

    def serving_env(self) -> dict[str, str]:
        """How tasks (register, rollback) and the app itself reach and guard the serving app."""
        if self.serving_port is None:
            return {}
        return {"MLCYCLE_SERVING_URL": self.serving_url, "MLCYCLE_SERVING_PORT": str(self.serving_port),
                "MLCYCLE_SERVING_API_KEY": self.serving_key()}

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def state(self) -> Path:
        """The state folder (MLCYCLE_HOME): every component, and so every task process, runs in it."""
        return self.home

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def embedded_postgres(self) -> bool:
        return self.database == "postgres" and not self.database_url

    def password(self) -> str:
        """The admin password, generated once per state folder and kept in the passwords file. Hex: a
        URL-safe token may start with "-", which a command line then reads as an option (``--password -x...``)."""
        return self._secret("passwords.json", USERNAME, lambda: secrets.token_hex(12))

    def _secret(self, file: str, key: str, make: Any) -> str:
        path = self.airflow_home / file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({key: make()}))
            path.chmod(0o600)
        return json.loads(path.read_text())[key]

    def mlflow_secrets(self) -> dict[str, str]:
        """MLflow's admin and service account passwords and its auth app's secret key, generated once."""
        return _generated(self.home / "mlflow" / "auth.json", USERNAME, "service", "secret_key")

    def service_account(self) -> tuple[str, str]:
        """The pipeline's MLflow username and password (with auth)."""
        return settings.mlflow_service_account()[0], self.mlflow_secrets()["service"]

    def client_env(self) -> dict[str, str]:
        """How a client reaches this MLflow: its URL, and with auth the pipeline's service account."""
        env = {"MLFLOW_TRACKING_URI": self.mlflow_url}
        if self.mlflow_auth:
            env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"] = self.service_account()
        return env

    def mlflow_server_env(self) -> dict[str, str]:
        """What MLflow alone gets: the auth app's settings and the admin password (with auth)."""
        if not self.mlflow_auth:
            return {}
        folder, generated = self.home / "mlflow", self.mlflow_secrets()
        config = mlflow_auth.write_config(folder / "basic_auth.ini", f"sqlite:///{folder / 'auth.db'}", USERNAME)
        return {"MLFLOW_AUTH_CONFIG_PATH": str(config), "MLFLOW_AUTH_ADMIN_USERNAME": USERNAME,
                "MLFLOW_AUTH_ADMIN_PASSWORD": generated[USERNAME],
                "MLFLOW_FLASK_SERVER_SECRET_KEY": generated["secret_key"]}

    def database_uri(self, name: str) -> str:
        """The SQLAlchemy URL of database ``name`` (``airflow`` or ``mlflow``)."""
        if self.database == "sqlite":
            folder = self.airflow_home if name == "airflow" else self.home / "mlflow"
            return f"sqlite:///{folder / f'{name}.db'}"
        return postgres.database_url(self.database_url or postgres.server_url(self.home), name)

    def env(self) -> dict[str, str]:
        """Environment of every component and task: the stack's (:func:`stack.stack_env`), the embedded
        Airflow's own settings, sizing for 2 cores, and ``config``."""
        jwt = self._secret("jwt_secret.json", "jwt_secret", lambda: secrets.token_urlsafe(64))
        fernet = self._secret("fernet_key.json", "fernet_key",
                              lambda: base64.urlsafe_b64encode(os.urandom(32)).decode())
        return {
            **stack.stack_env(self.home, self.airflow_home, self.database_uri("airflow")),
            **stack.embedded_airflow_env(self.airflow_port, self.airflow_home / "passwords.json", USERNAME),
            **stack.sizing_env(self.parallelism),
            **stack.task_start_env(self.preload),
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__API_AUTH__JWT_SECRET": jwt,
            "AIRFLOW__CORE__FERNET_KEY": fernet,
            **self.client_env(),
            **self.serving_env(),
            **({"MLCYCLE_DATABASE_URL": self.database_url} if self.database_url else {}),
            **self.config,
        }

    def components(self) -> list[dict[str, Any]]:
        """What the supervisor runs, in start order: name, command, gate (see :mod:`~mlcycle.tools.supervisor`)."""
        airflow = str(stack.VENV_BIN / "airflow")
        found: list[dict[str, Any]] = []
        if self.embedded_postgres:
            found.append({"name": "postgres", "argv": postgres.server_command(self.home),
                          "gate": f"unix:{postgres.socket_path(self.home)}", "stop_signal": "SIGINT"})
        if self.database == "postgres":
            found.append({"name": "databases", "argv": [sys.executable, "-m", "mlcycle.tools.postgres", "create"],
                          "gate": "oneshot"})
        if self.with_mlflow:
            found.append({"name": "mlflow", "argv": stack.mlflow_command(
                self.mlflow_port, self.database_uri("mlflow"), str(self.home / "mlflow" / "artifacts"),
                self.mlflow_auth), "env": self.mlflow_server_env(), "watch": f"http:{self.mlflow_url}/health"})
        found += [{"name": "migrate", "argv": [airflow, "db", "migrate"], "gate": "oneshot"},
                  {"name": "api-server", "argv": [airflow, "api-server"], "env": stack.API_SERVER_POOL,
                   "watch": f"http:{self.airflow_url}/api/v2/monitor/health"},
                  # logs are read from the shared disk: no log server on 8793/8794 (they bind every interface)
                  {"name": "scheduler", "argv": [airflow, "scheduler", "--skip-serve-logs"]},
                  {"name": "dag-processor", "argv": [airflow, "dag-processor"]},
                  {"name": "triggerer", "argv": [airflow, "triggerer", "--skip-serve-logs"]}]
        if self.serving_port is not None:
            found.append({"name": "serving", "argv": [sys.executable, "-m", "mlcycle.serving", "--host", "127.0.0.1",
                                                      "--port", str(self.serving_port)],
                          "watch": f"http:{self.serving_url}/health"})
        return found

    def ports(self) -> dict[str, int]:
        """The TCP ports of the stack, all on 127.0.0.1 (PostgreSQL listens on its Unix socket only)."""
        return {"api-server": self.airflow_port, **({"mlflow": self.mlflow_port} if self.with_mlflow else {}),
                **({"serving": self.serving_port} if self.serving_port is not None else {})}

    def health(self) -> dict[str, tuple[bool, str]]:
        """Each component: healthy?, and what says so."""
        from mlcycle.tools import control

        return control.health(self)


def _generated(path: Path, *names: str, make: Any = lambda: secrets.token_hex(18)) -> dict[str, str]:
    """Secrets kept in ``path`` (JSON, readable by its owner only), each generated the first time it is asked for."""
    known = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in names if name not in known]
    if missing:
        known.update({name: make() for name in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(known))
    return known


class RuntimeErrorWithFix(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


def start(rt: Runtime, timeout: float = 300) -> None:
    """Start the stack (or repair what is down in a running one) and wait until every component is healthy."""
    launch(rt)
    wait_healthy(rt, timeout)


def launch(rt: Runtime) -> None:
    """Start the supervisor with every component, or ask a running one to restart what is down; no waiting."""
    from mlcycle.tools import control

    control.launch(rt)


def wait_healthy(rt: Runtime, timeout: float = 300) -> None:
    """Wait until every component is healthy; with MLflow auth, make sure the service account exists."""
    from mlcycle.tools import control

    control.wait_healthy(rt, timeout)
    if rt.mlflow_auth and rt.with_mlflow:
        mlflow_auth.ensure_service_account(rt.mlflow_url, (USERNAME, rt.mlflow_secrets()[USERNAME]),
                                           rt.service_account())


def stop(rt: Runtime) -> None:
    """Stop the supervisor and every component (PostgreSQL last)."""
    from mlcycle.tools import control

    control.stop(rt)


def banner(rt: Runtime) -> str:
    mlflow_login = f"   login {USERNAME} / {rt.mlflow_secrets()[USERNAME]}" if rt.mlflow_auth else ""
    return (f"Airflow UI   {rt.airflow_url}   login {USERNAME} / {rt.password()}\n"
            f"MLflow UI    {rt.mlflow_url}{mlflow_login}\n"
            + (f"Serving      {rt.serving_url}   (API key in {rt.home / 'serving' / 'api_key.json'} or "
               "$MLCYCLE_SERVING_API_KEY)\n" if rt.serving_port is not None else "")
            + f"State folder {rt.home}  (make clean resets it); logs {rt.logs}; `make status` shows each component")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the embedded PostgreSQL + MLflow + Airflow stack.")
    parser.add_argument("action", choices=["start", "stop", "status", "env"])
    args = parser.parse_args(argv)
    rt = Runtime.from_env()
    from mlcycle.tools import control

    try:
        if args.action == "start":
            start(rt)
            print(banner(rt))
        elif args.action == "stop":
            stop(rt)
        elif args.action == "status":
            return control.print_status(rt)
        else:
            print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in rt.env().items()))
    except RuntimeErrorWithFix as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # run this module's main as mlcycle.tools.runtime, the module control.py imports,
    from mlcycle.tools import runtime  # so its RuntimeErrorWithFix is the class main() catches

    sys.exit(runtime.main())
