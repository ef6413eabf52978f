"""Fixtures of the integration tests that need a real MLflow tracking server.

MLflow takes 20-40 s to start on a slow machine, so starting it (``mlflow_process``) is separate
from waiting for it (``mlflow_server``): a fixture can start it, prepare its data meanwhile, and
only then ask for ``mlflow_server``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlcycle.tools import stack

START_TIMEOUT = 240


@dataclass
class MlflowProcess:
    url: str
    process: subprocess.Popen
    log: Path
    started: float

    def wait(self) -> None:
        def died() -> str | None:
            if self.process.poll() is None:
                return None
            return f"exited with {self.process.returncode} during start-up"

        left = self.started + START_TIMEOUT - time.monotonic()
        try:
            stack.poll_until(lambda: stack.http_ok(f"{self.url}/health"), left, "mlflow server", still_alive=died)
        except stack.NotReady as exc:
            pytest.fail(f"{exc}\n{self.log.read_text()[-3000:]}")

    def stop(self, grace: float = 15) -> None:
        """Terminate the server's whole process group (uvicorn runs its worker as a child)."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=grace)
        except ProcessLookupError:
            pass


def launch_mlflow(home: Path, artifacts: str, env: dict[str, str] | None = None) -> MlflowProcess:
    """Start a real ``mlflow server`` (SQLite backend, proxied artifacts at ``artifacts``) on a free port."""
    port = stack.free_port()
    command = stack.mlflow_command(port, f"sqlite:///{home / 'mlflow.db'}", artifacts)
    env = {**os.environ, **stack.MLFLOW_ENV, **(env or {})}
    log = home / "server.log"
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=home, env=env, start_new_session=True)
    return MlflowProcess(f"http://127.0.0.1:{port}", process, log, time.monotonic())


@pytest.fixture(scope="session")
def mlflow_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowProcess]:
    """A real ``mlflow server`` with local artifacts; not yet waited for."""
    home = tmp_path_factory.mktemp("mlflow")
    server = launch_mlflow(home, str(home / "artifacts"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mlflow_server(mlflow_process: MlflowProcess) -> Iterator[str]:
    """The URL of the running MLflow server; ``MLFLOW_TRACKING_URI`` points at it until the session ends."""
    mlflow_process.wait()
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_process.url
    try:
        yield mlflow_process.url
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved
