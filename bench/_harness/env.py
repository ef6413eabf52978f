"""The isolated environment every benchmark runs in: a temporary state folder, never the demo's.

The stack's environment is ``mlcycle.tools.stack.stack_env``, as in ``tests/conftest.py``:
MLCYCLE_HOME, AIRFLOW_HOME and a SQLite metadata DB under one ``tempfile.mkdtemp()`` folder, the
repository's DAG and plugin folders, no analytics. The benchmarks add DVC's site cache and config dirs
and a copy of the GX project. Inherited ``AIRFLOW__*``, ``MLCYCLE_*``, ``DVC_*``, ``GX_*`` and
``MLFLOW_*`` variables are dropped first (except the inputs ``MLCYCLE_PIPELINES_DIR`` and
``MLCYCLE_GX_DIR``), so a shell or ``.env`` set up for the demo cannot point a benchmark at the demo's
state or servers (a benchmark that needs MLflow starts its own server and passes its URI to its workers).

``isolate()`` must run before anything imports Airflow. The benchmark process itself never imports
Airflow, pandas, GX or DVC: worker subprocesses do, and they inherit this environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlcycle import settings
from mlcycle.tools import stack

REPO = Path(__file__).resolve().parents[2]
WORKER_MARK = "MLCYCLE_BENCH_HOME"  # set for workers; they refuse to run without it

# Inherited settings that could point a benchmark at the demo's state or servers. The two inputs a
# .env may relocate (pipeline configs, GX project) are honoured; the GX project is used as a copy.
_DROP_PREFIXES = ("AIRFLOW__", "MLCYCLE_", "DVC_", "GX_", "MLFLOW_")
_DROP_NAMES = ("AIRFLOW_HOME", "AIRFLOW_CONFIG")
_KEEP_NAMES = ("MLCYCLE_PIPELINES_DIR",)


@dataclass
class Context:
    """What a benchmark's ``run`` gets: the temporary home, the parsed options, helpers' settings."""

    home: Path
    args: argparse.Namespace
    repeat: int
    python: str = sys.executable

    @property
    def logs(self) -> Path:
        path = self.home / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def airflow_db(self) -> Path:
        return self.airflow_home / "airflow.db"


def isolate(home: Path | None = None) -> Path:
    """Point MLCYCLE_HOME, AIRFLOW_HOME, the Airflow DB, DVC and GX at a fresh temporary folder."""
    home = home or Path(tempfile.mkdtemp(prefix="mlcycle-bench-"))
    gx_project = Path(os.environ.get("MLCYCLE_GX_DIR", REPO / "include" / "gx"))
    for name in list(os.environ):
        if (name.startswith(_DROP_PREFIXES) or name in _DROP_NAMES) and name not in _KEEP_NAMES:
            del os.environ[name]
    (home / "airflow").mkdir(parents=True, exist_ok=True)
    # GX may re-save suites into its project folder: give it a copy, so no versioned file is ever written.
    shutil.copytree(gx_project, home / "gx-project", ignore=shutil.ignore_patterns(".ge_store_backend_id"))
    os.environ.update({
        **stack.stack_env(home / "state", home / "airflow"),
        WORKER_MARK: str(home),
        "MLCYCLE_GX_DIR": str(home / "gx-project"),
        "DVC_SITE_CACHE_DIR": str(home / "dvc-site-cache"),
        "DVC_GLOBAL_CONFIG_DIR": str(home / "dvc-global-config"),
        "DVC_SYSTEM_CONFIG_DIR": str(home / "dvc-system-config"),
        # workers are `python -m bench.<module>`: the repository itself too, after the stack's plugins
        "PYTHONPATH": settings.search_path("PYTHONPATH", str(REPO / "plugins"), str(REPO)),
        "PYTHONUNBUFFERED": "1",
    })
    return home


def cleanup(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)


def require_isolated() -> Path:
    """For worker entry points: refuse to run outside an environment made by ``isolate()``."""
    home = os.environ.get(WORKER_MARK)
    if not home:
        sys.exit("this is an internal benchmark worker; run `python -m bench` instead")
    return Path(home)
