"""The two locks: requirements.txt (what runs, and all the production image installs) and requirements-dev.txt
(test and lint tools, compiled against the runtime lock). And the Makefile's venv stamp: it goes stale when
the content of a lock changes, never when only its mtime does."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "requirements.txt"
DEV = REPO / "requirements-dev.txt"
LOCKS = (RUNTIME, DEV)
DEV_ONLY = ("pytest", "ruff", "playwright", "moto", "aiosmtpd")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", re.MULTILINE)
INSTALL = "uv pip install"


def _pins(lock: Path) -> dict[str, str]:
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in PIN.findall(lock.read_text())}


def test_the_locks_pin_every_shared_package_at_the_same_version():
    runtime, dev = _pins(RUNTIME), _pins(DEV)
    assert len(runtime) > 100, "the runtime lock parsed to almost nothing: has its format changed?"
    assert len(dev) > 5, "the dev lock parsed to almost nothing: has its format changed?"
    assert {name: (runtime[name], dev[name]) for name in runtime.keys() & dev.keys()
            if runtime[name] != dev[name]} == {}
    assert (REPO / "requirements-dev.in").read_text().splitlines().count("-c requirements.txt") == 1


def test_test_and_lint_tools_are_only_in_the_dev_lock():
    runtime, dev = _pins(RUNTIME), _pins(DEV)
    assert [tool for tool in DEV_ONLY if tool in runtime] == []
    assert [tool for tool in DEV_ONLY if tool not in dev] == []


def test_the_production_image_installs_the_runtime_lock_only():
    instructions = [line for line in (REPO / "Dockerfile").read_text().splitlines() if not line.startswith("#")]
    assert any("-r /opt/mlcycle/requirements.txt" in line for line in instructions if line.startswith("RUN "))
    assert [line for line in instructions if "requirements-dev" in line] == []


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the Makefile and the locks, whose .venv has a python and a uv that only log their arguments;
    one real `make venv` has written the stamp."""
    for path in (REPO / "Makefile", *LOCKS):
        shutil.copy2(path, tmp_path)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "uv"):
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{tmp_path}/calls.log"\n')
        (bin_dir / name).chmod(0o755)
    _make(tmp_path)
    calls = (tmp_path / "calls.log").read_text()
    assert f"{INSTALL} -q --python .venv/bin/python -r requirements.txt -r requirements-dev.txt" in calls
    assert len(list((tmp_path / ".venv").glob(".installed-*"))) == 1
    return tmp_path


def _make(cwd: Path, *flags: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(["make", *flags, "venv"], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True, timeout=30).stdout


def test_a_new_mtime_on_the_locks_does_not_reinstall(project: Path):
    assert INSTALL not in _make(project, "-n")
    (stamp,) = (project / ".venv").glob(".installed-*")
    an_hour_ago = time.time() - 3600
    os.utime(stamp, (an_hour_ago, an_hour_ago))
    for lock in LOCKS:
        (project / lock.name).touch()  # newer than the stamp, same content: what a fresh git checkout does
    assert INSTALL not in _make(project, "-n")


@pytest.mark.parametrize("lock", [lock.name for lock in LOCKS])
def test_a_changed_lock_content_reinstalls_both_locks(project: Path, lock: str):
    path = project / lock
    original = path.read_text()
    path.write_text(original + "# one more byte\n")
    planned = _make(project, "-n")
    assert f"{INSTALL} -q --python .venv/bin/python -r requirements.txt -r requirements-dev.txt" in planned
    path.write_text(original)  # the same content again: the stamp written for it is valid again
    assert INSTALL not in _make(project, "-n")
