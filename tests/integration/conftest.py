"""Fixtures of the integration tests that need a real MLflow tracking server.

MLflow takes 20-40 s to start on a slow machine, so starting it (``mlflow_process``) is separate
from waiting for it (``mlflow_server``): a fixture can start it, prepare its data meanwhile, and
only then ask for ``mlflow_server``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import free_port

MLFLOW = Path(sys.executable).parent / "mlflow"
START_TIMEOUT = 240


@dataclass
class MlflowProcess:
    url: str
    process: subprocess.Popen
    log: Path
    started: float

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=3) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def wait(self) -> None:
        while not self.healthy():
            if self.process.poll() is not None:
                pytest.fail(f"mlflow server exited with {self.process.returncode} during start-up:\n"
                            f"{self.log.read_text()[-3000:]}")
            if time.monotonic() > self.started + START_TIMEOUT:
                pytest.fail(f"mlflow server not healthy {START_TIMEOUT}s after its start:\n"
                            f"{self.log.read_text()[-3000:]}")
            time.sleep(1)

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
    port = free_port()
    command = [str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
               "--artifacts-destination", artifacts, "--workers", "1"]
    # The job runner (six huey consumers, for GenAI jobs) serves nothing the model registry needs.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})}
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
