"""What the embedded scheduler's forkserver preloads for task processes (``mlcycle.orchestration.preload``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlcycle import settings
from mlcycle.stages import libraries
from mlcycle.tools import runtime, stack


def test_preload_on_starts_workers_from_a_forkserver_that_imports_the_preload_module() -> None:
    env = stack.task_start_env(True)
    assert env == {"AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
                   "AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD": "mlcycle.orchestration.preload"}
    assert stack.task_start_env(False) == {}


@pytest.mark.parametrize(("value", "on"), [(None, True), ("1", True), ("0", False), ("off", False)])
def test_the_runtime_takes_the_preload_switch_from_the_environment(
        value: str | None, on: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if value is None:
        monkeypatch.delenv("MLCYCLE_TASK_PRELOAD", raising=False)
    else:
        monkeypatch.setenv("MLCYCLE_TASK_PRELOAD", value)
    monkeypatch.setenv("MLCYCLE_HOME", str(tmp_path))
    env = runtime.Runtime.from_env().env()
    assert ("AIRFLOW__SCHEDULER__MP_START_METHOD" in env) is on
    assert settings.task_preload() is on


def test_every_stage_library_is_preloaded() -> None:
    assert set(libraries.INGEST) <= set(libraries.VALIDATE) <= set(libraries.ALL)
    assert set(libraries.MODELS) <= set(libraries.ALL)


def test_the_preload_imports_everything_and_starts_no_thread(tmp_path: Path) -> None:
    """A process forked while another thread runs may deadlock: what the forkserver imports starts none."""
    code = ("import json, sys, threading\n"
            "from mlcycle.orchestration import preload\n"
            "print(json.dumps({'threads': [t.name for t in threading.enumerate()], 'failed': preload.preload(),\n"
            "                  'missing': [m for m in preload.RUNTIME if m not in sys.modules]}))\n")
    env = {**os.environ, **stack.stack_env(tmp_path / "state", tmp_path / "airflow")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600,
                          check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"threads": ["MainThread"], "failed": [], "missing": []}
