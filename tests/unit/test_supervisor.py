"""The embedded stack's supervisor (mlcycle.tools.supervisor) as a real daemon over small Python processes:
start order behind gates, restarts after ``kill -9`` with growing backoff and a count, one log per
component, the watchdog, and a stop that leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlcycle.tools import control, supervisor
from mlcycle.tools.stack import poll_until

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"]


def _spec(tmp_path: Path, components: list[dict]) -> Path:
    env = {**os.environ, "MLCYCLE_HOME": str(tmp_path)}
    spec = {"status": str(tmp_path / "status.json"),
            "components": [{"env": env, "log": str(tmp_path / f"{c['name']}.log"), **c} for c in components]}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.fixture
def daemon(tmp_path):
    """Start a supervisor on a spec; stops it (SIGTERM) and checks that every component is gone."""
    started: list[subprocess.Popen] = []

    def start(components: list[dict]) -> Path:
        process = subprocess.Popen([sys.executable, "-m", "mlcycle.tools.supervisor", str(_spec(tmp_path, components))],
                                   stdout=(tmp_path / "supervisor.log").open("ab"), stderr=subprocess.STDOUT,
                                   start_new_session=True)
        started.append(process)
        return tmp_path / "status.json"

    yield start
    for process in started:
        pids = [c["pid"] for c in _status(tmp_path / "status.json").get("components", {}).values() if c["pid"]]
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        assert not [p for p in pids if supervisor.create_time(p)], "a component outlived the supervisor"


def _status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _until(check, what: str, timeout: float = 60):
    return poll_until(check, timeout, what, interval=0.2)


def test_components_start_in_order_behind_their_gates_and_a_killed_one_comes_back_counted(daemon, tmp_path):
    marker = tmp_path / "migrated"
    status = daemon([
        {"name": "db", "argv": SLEEPER},
        {"name": "migrate", "argv": [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"],
         "gate": "oneshot"},
        {"name": "server", "argv": [sys.executable, "-c", f"import os,time; assert os.path.exists({str(marker)!r}); "
                                                          "time.sleep(600)"]},
    ])
    components = _until(lambda: (c := _status(status).get("components")) and c["server"]["state"] == "running"
                        and c["db"]["state"] == "running" and c, "every component to run")
    assert components["migrate"]["state"] == "done"
    assert components["server"]["restarts"] == 0, "the server started only after the oneshot had passed"

    old = components["db"]["pid"]
    os.kill(old, signal.SIGKILL)
    db = _until(lambda: (c := _status(status)["components"]["db"])["pid"] not in (None, old)
                and c["state"] == "running" and c, "db to be restarted")
    assert db["restarts"] == 1
    assert db["since"] > components["db"]["since"]
    log = (tmp_path / "db.log").read_text()
    assert log.count("supervisor: starting db") == 2
    assert "exited with -9" in log


def test_a_component_that_keeps_exiting_is_restarted_for_ever_with_growing_backoff(daemon, tmp_path):
    status = daemon([{"name": "flaky", "argv": [sys.executable, "-c", "raise SystemExit(3)"]}])
    _until(lambda: _status(status).get("components", {}).get("flaky", {}).get("restarts", 0) >= 3,
           "three restarts")
    log = (tmp_path / "flaky.log").read_text()
    delays = [int(line.rsplit("restart in ", 1)[1].rstrip("s")) for line in log.splitlines() if "restart in" in line]
    assert delays[:3] == [1, 2, 4], delays
    assert "exited with 3" in log


def test_a_watched_component_that_stops_answering_is_killed_and_restarted(tmp_path, capsys):
    never = f"http:http://127.0.0.1:{control.stack.free_port()}/health"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(supervisor, "WATCH_AFTER", 0.0)
        patch.setattr(supervisor, "WATCH_EVERY", 0.2)
        patch.setattr(supervisor, "WATCH_LIMIT", 1.0)
        sup = supervisor.Supervisor(json.loads(_spec(tmp_path, [{"name": "hung", "argv": SLEEPER,
                                                                  "watch": never}]).read_text()))
        sup.tick()
        first = sup.components[0].process.pid
        deadline = time.monotonic() + 30
        while sup.components[0].restarts == 0 and time.monotonic() < deadline:
            sup.tick()
            time.sleep(0.1)
        assert sup.components[0].restarts == 1
        assert sup.components[0].process.pid != first
        sup.stop_all()
    assert f"hung: {never} failed for" in capsys.readouterr().out


def _titled(cwd: Path) -> subprocess.Popen:
    """A process titled as Airflow titles a task process, in a session of its own, working in ``cwd``."""
    code = "import setproctitle, time; setproctitle.setproctitle('airflow worker -- 01a2'); time.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, start_new_session=True)
    for _ in range(100):  # until the title is set
        with open(f"/proc/{process.pid}/cmdline", "rb") as cmdline:
            if cmdline.read().startswith(b"airflow worker --"):
                return process
        time.sleep(0.05)
    raise AssertionError("the process never took its title")


def test_stop_kills_task_processes_left_in_its_state_folder_and_no_others(tmp_path):
    """Executors start task processes in sessions of their own: a stack's stop finds them by title and folder."""
    mine, other = tmp_path / "state", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    left, elsewhere = _titled(mine), _titled(other)
    try:
        assert control.kill_task_processes(mine) == 1
        assert left.wait(timeout=10) == -signal.SIGKILL
        assert elsewhere.poll() is None, "another stack's task process is not touched"
    finally:
        for process in (left, elsewhere):
            process.kill()
            process.wait()
