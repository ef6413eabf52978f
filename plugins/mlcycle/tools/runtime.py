"""Embedded runtime: ``airflow standalone`` and ``mlflow server`` as real local processes.

All their state lives under ``$MLCYCLE_HOME`` (default ``<repo>/.state``). Starting twice is a
no-op; a port held by something else is reported with the fix. With ``MLCYCLE_MLFLOW_AUTH=1``, MLflow
runs behind its basic-auth app: an admin and the pipeline's service account, with passwords generated
once per state folder; everyone else reads only.

Usage: ``python -m mlcycle.tools.runtime {start,stop,status,env}``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mlcycle import settings
from mlcycle.tools import mlflow_auth, stack

USERNAME = "admin"


@dataclass(frozen=True)
class Runtime:
    """Ports and state folder of one embedded stack (the demo's, or a test's on free ports)."""

    home: Path
    airflow_port: int = 8080
    mlflow_port: int = 5000
    log_ports: tuple[int, int] = (8793, 8794)  # task and trigger log servers
    mlflow_auth: bool = False  # MLflow behind its basic-auth app

    @classmethod
    def from_env(cls) -> Runtime:
        return cls(settings.state_dir(), *settings.embedded_ports(), mlflow_auth=settings.mlflow_auth())

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    def password(self) -> str:
        """The Airflow admin's password, generated once per state folder and kept in the passwords file."""
        return _generated(self.airflow_home / "passwords.json", USERNAME)[USERNAME]

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

    def server_env(self, name: str) -> dict[str, str]:
        """What one service alone gets: the auth app's settings and admin password go to MLflow only."""
        if name != "mlflow" or not self.mlflow_auth:
            return {}
        folder, generated = self.home / "mlflow", self.mlflow_secrets()
        config = mlflow_auth.write_config(folder / "basic_auth.ini", f"sqlite:///{folder / 'auth.db'}", USERNAME)
        return {"MLFLOW_AUTH_CONFIG_PATH": str(config), "MLFLOW_AUTH_ADMIN_USERNAME": USERNAME,
                "MLFLOW_AUTH_ADMIN_PASSWORD": generated[USERNAME],
                "MLFLOW_FLASK_SERVER_SECRET_KEY": generated["secret_key"]}

    def env(self) -> dict[str, str]:
        """Environment for Airflow, MLflow and the tasks: the stack's (:func:`stack.stack_env`) plus the
        embedded Airflow's own settings."""
        return {
            **stack.stack_env(self.home, self.airflow_home),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.airflow_home / "passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.airflow_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.airflow_port),
            "AIRFLOW__API__BASE_URL": self.airflow_url,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.log_ports[1]),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            **self.client_env(),
        }

    def commands(self) -> dict[str, list[str]]:
        mlflow_dir = self.home / "mlflow"
        return {"mlflow": stack.mlflow_command(self.mlflow_port, f"sqlite:///{mlflow_dir / 'mlflow.db'}",
                                               str(mlflow_dir / "artifacts"), self.mlflow_auth),
                "airflow": [str(stack.VENV_BIN / "airflow"), "standalone"]}

    def health_urls(self) -> dict[str, str]:
        return {"mlflow": f"{self.mlflow_url}/health", "airflow": f"{self.airflow_url}/api/v2/monitor/health"}

    def ports(self) -> dict[str, int]:
        return {"mlflow": self.mlflow_port, "airflow": self.airflow_port}


def _generated(path: Path, *names: str) -> dict[str, str]:
    """Secrets kept in ``path`` (JSON, readable by its owner only), each generated the first time it is asked for."""
    import json

    known = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in names if name not in known]
    if missing:
        known.update({name: secrets.token_urlsafe(18) for name in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(known))
    return known


def _pidfile(rt: Runtime, name: str) -> Path:
    return rt.home / "run" / f"{name}.pid"


def _alive(rt: Runtime, name: str) -> int | None:
    path = _pidfile(rt, name)
    if not path.exists():
        return None
    pid = int(path.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink()
        return None
    return pid


class RuntimeErrorWithFix(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


def start(rt: Runtime, timeout: float = 300) -> None:
    """Start MLflow and Airflow unless already running, and wait until both answer."""
    launch(rt)
    wait_healthy(rt, timeout)


def launch(rt: Runtime) -> None:
    """Start MLflow and Airflow unless already running; do not wait for them."""
    (rt.home / "run").mkdir(parents=True, exist_ok=True)
    (rt.home / "logs").mkdir(parents=True, exist_ok=True)
    rt.password()
    for name, command in rt.commands().items():
        env = {**os.environ, **rt.env(), **rt.server_env(name)}
        if _alive(rt, name):
            print(f"{name}: already running (pid {_alive(rt, name)})", flush=True)
            continue
        port = rt.ports()[name]
        if stack.port_in_use(port):
            raise RuntimeErrorWithFix(
                f"port {port} is already in use by another process, so {name} cannot start. Stop that process "
                f"(`ss -ltnp 'sport = :{port}'` shows it), or pick another port: "
                f"{'AIRFLOW_PORT' if name == 'airflow' else 'MLFLOW_PORT'}={port + 1} make demo")
        log = (rt.home / "logs" / f"{name}.log").open("ab")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, cwd=rt.home)
        _pidfile(rt, name).write_text(str(process.pid))
        print(f"{name}: started (pid {process.pid}), log {rt.home / 'logs' / f'{name}.log'}", flush=True)


def wait_healthy(rt: Runtime, timeout: float = 300) -> None:
    """Wait until both services answer (a dead one is reported with its log), then create the pool."""
    deadline = time.monotonic() + timeout
    for name, url in rt.health_urls().items():
        print(f"{name}: waiting for {url} ...", flush=True)
        log = rt.home / "logs" / f"{name}.log"
        try:
            stack.poll_until(lambda url=url: stack.http_ok(url), deadline - time.monotonic(), name, interval=2,
                             still_alive=lambda name=name: None if _alive(rt, name) else "exited during start-up")
        except stack.NotReady as exc:
            raise RuntimeErrorWithFix(f"{exc}; see {log}") from exc
        print(f"{name}: ready", flush=True)
    _ensure_pool(rt)
    if rt.mlflow_auth:
        mlflow_auth.ensure_service_account(rt.mlflow_url, (USERNAME, rt.mlflow_secrets()[USERNAME]),
                                           rt.service_account())


def _ensure_pool(rt: Runtime) -> None:
    """The one-slot pool that serialises promotions (the scheduler never runs a task of a missing pool)."""
    from mlcycle.tools.airflow_client import AirflowAPIError, AirflowClient

    client = AirflowClient(rt.airflow_url, USERNAME, rt.password())
    try:
        client.get(f"/pools/{settings.PROMOTION_POOL}")
    except AirflowAPIError:
        client.post("/pools", {"name": settings.PROMOTION_POOL, "slots": 1,
                               "description": "mlcycle: promotions of champion models, one at a time"})


def stop(rt: Runtime, grace: float = 30) -> None:
    """Stop both services (their whole process groups)."""
    for name in rt.commands():
        pid = _alive(rt, name)
        if not pid:
            print(f"{name}: not running", flush=True)
            continue
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _alive(rt, name) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):  # reap it when this process started it
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.5)
        if _alive(rt, name):
            os.killpg(pid, signal.SIGKILL)
        _pidfile(rt, name).unlink(missing_ok=True)
        print(f"{name}: stopped", flush=True)


def banner(rt: Runtime) -> str:
    mlflow_login = f"   login {USERNAME} / {rt.mlflow_secrets()[USERNAME]}" if rt.mlflow_auth else ""
    return (f"Airflow UI   {rt.airflow_url}   login {USERNAME} / {rt.password()}\n"
            f"MLflow UI    {rt.mlflow_url}{mlflow_login}\n"
            f"State folder {rt.home}  (make clean resets it)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the embedded Airflow + MLflow stack.")
    parser.add_argument("action", choices=["start", "stop", "status", "env"])
    args = parser.parse_args(argv)
    rt = Runtime.from_env()
    try:
        if args.action == "start":
            start(rt)
            print(banner(rt))
        elif args.action == "stop":
            stop(rt)
        elif args.action == "status":
            for name, url in rt.health_urls().items():
                print(f"{name}: {'up' if stack.http_ok(url) else 'down'} ({url})")
        else:
            print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in rt.env().items()))
    except RuntimeErrorWithFix as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
