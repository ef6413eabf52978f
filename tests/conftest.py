"""Shared fixtures. Each test session gets its own state folder and Airflow metadata DB.

The environment is set before Airflow is imported anywhere, so tests never touch the demo's
``.state`` folder or its ports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mlcycle.tools import stack

REPO = Path(__file__).resolve().parents[1]
SESSION_HOME = Path(tempfile.mkdtemp(prefix="mlcycle-test-"))
os.environ.update(stack.stack_env(SESSION_HOME / "state", SESSION_HOME / "airflow"))


# DAGs built from include/pipelines (flights, pedestrians) are registered in the session's Airflow DB by every
# dag.test(); Airflow deactivates an Asset whose name comes back with another URI, so modules that run those
# pipelines share this lake root.
SESSION_LAKE = f"file://{SESSION_HOME / 'lake'}"
LOCATIONS = ("MLCYCLE_LAKE_URI", "MLCYCLE_LANDING_URI", "MLCYCLE_DVC_REPO", "MLCYCLE_DVC_REMOTE", "MLFLOW_UI_URL")


def local_state(patch: pytest.MonkeyPatch, home: Path, pipelines: Path | None = None) -> None:
    """Embedded-mode locations under ``home`` (and configs from ``pipelines``) for the patch's lifetime."""
    patch.setenv("MLCYCLE_HOME", str(home))
    if pipelines:
        patch.setenv("MLCYCLE_PIPELINES_DIR", str(pipelines))
    for name in LOCATIONS:
        patch.delenv(name, raising=False)


def pipelines_folder(root: Path, name: str, text: str) -> Path:
    """A pipelines folder under ``root`` holding one config, ``<name>.yaml``."""
    folder = root / "pipelines"
    folder.mkdir()
    (folder / f"{name}.yaml").write_text(text)
    return folder


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty state folder (lake, landing, DVC, GX runtime) for one test."""
    local_state(monkeypatch, tmp_path / "state")
    return tmp_path / "state"


@pytest.fixture
def flights_config():
    from mlcycle.core.config import load_pipeline

    return load_pipeline("flights")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """An initialised Airflow metadata DB (SQLite) for ``dag.test()``."""
    from mlcycle.settings import PROMOTION_POOL

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=env)
    subprocess.run([sys.executable, "-m", "airflow", "pools", "set", PROMOTION_POOL, "1", "promotions"],
                   check=True, capture_output=True, env=env)
    return SESSION_HOME / "airflow" / "airflow.db"
