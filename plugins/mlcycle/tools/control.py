"""Starting, repairing, stopping and checking the embedded stack's supervisor and its components.

The supervisor writes ``<state>/run/supervisor.json`` (each component's pid, state, up-since, restarts);
``launch`` records the supervisor's own pid in ``<state>/run/supervisor.pid``. A pid is trusted only with
the start time recorded beside it, so a reused pid is never signalled.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlcycle.tools import postgres, stack, supervisor
from mlcycle.tools.runtime import AIRFLOW_JOBS, SQLITE_WARNING, USERNAME, Runtime, RuntimeErrorWithFix

STOP_TIMEOUT = 120  # the supervisor's own grace per component is supervisor.GRACE
PORT_SETTINGS = {"api-server": "AIRFLOW_PORT", "mlflow": "MLFLOW_PORT", "serving": "MLCYCLE_SERVING_PORT"}


def _status_path(rt: Runtime) -> Path:
    return rt.run_dir / "supervisor.json"


def read_status(rt: Runtime) -> dict[str, Any]:
    try:
        return json.loads(_status_path(rt).read_text())
    except (OSError, ValueError):
        return {}


def _alive(pid: int | None, created: float | None) -> bool:
    """Whether ``pid`` is still the process that started at ``created`` (a zombie child is reaped, not alive)."""
    if not pid:
        return False
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child (a test started the supervisor): reaped
            return False
    except ChildProcessError:
        pass
    found = supervisor.create_time(pid)
    return found is not None and (created is None or abs(found - created) < 1.0)


def supervisor_pid(rt: Runtime) -> int | None:
    try:
        record = json.loads((rt.run_dir / "supervisor.pid").read_text())
    except (OSError, ValueError):
        return None
    return record["pid"] if _alive(record["pid"], record.get("create_time")) else None


def _kill_leftovers(rt: Runtime) -> list[str]:
    """Kill the process groups of components that a dead supervisor left running, and wait until they are
    gone and their ports are free; returns their names."""
    left = {name: c for name, c in read_status(rt).get("components", {}).items()
            if _alive(c.get("pid"), c.get("create_time"))}
    for c in left.values():
        supervisor.kill_group(c["pid"], signal.SIGKILL)
    with contextlib.suppress(stack.NotReady):  # a port still held is reported by launch, with the fix
        stack.poll_until(lambda: not any(_alive(c["pid"], c.get("create_time")) for c in left.values())
                         and not any(stack.port_in_use(p) for p in rt.ports().values()), 30 if left else 0,
                         "killed components to be gone", interval=0.3)
    return list(left)


def launch(rt: Runtime) -> None:
    """Start the supervisor daemon, or send a running one SIGHUP (restart now what waits for a restart)."""
    for folder in (rt.run_dir, rt.logs, rt.airflow_home):
        folder.mkdir(parents=True, exist_ok=True)
    rt.password()
    if rt.database == "sqlite":
        print(SQLITE_WARNING, file=sys.stderr, flush=True)
    pid = supervisor_pid(rt)
    if pid:
        os.kill(pid, signal.SIGHUP)
        print(f"supervisor: already running (pid {pid}); asked it to restart at once whatever is down", flush=True)
        return
    if left := _kill_leftovers(rt):
        print(f"killed {', '.join(left)}, left running by a supervisor that had died", flush=True)
    for name, port in rt.ports().items():
        if stack.port_in_use(port):
            raise RuntimeErrorWithFix(
                f"port {port} is already in use by another process, so {name} cannot start. Stop that process "
                f"(`ss -ltnp 'sport = :{port}'` shows it), or pick another port: "
                f"{PORT_SETTINGS.get(name, 'MLFLOW_PORT')}={port + 1} make demo")
    _prepare_database(rt)
    _start_supervisor(rt)


def _prepare_database(rt: Runtime) -> None:
    if not rt.embedded_postgres:
        return
    try:
        if postgres.initdb(rt.home, rt.logs / "postgres.log"):
            print(f"postgres: data folder created in {postgres.data_dir(rt.home)}", flush=True)
    except postgres.PostgresError as exc:
        raise RuntimeErrorWithFix(str(exc)) from exc


def _start_supervisor(rt: Runtime) -> None:
    env = {**os.environ, **rt.env()}
    components = [{**c, "env": {**env, **c.get("env", {})}, "log": str(rt.logs / f"{c['name']}.log")}
                  for c in rt.components()]
    spec = rt.run_dir / "supervisor-spec.json"
    spec.touch(mode=0o600)  # it holds the environment, secrets included
    spec.write_text(json.dumps({"components": components, "status": str(_status_path(rt))}))
    _status_path(rt).unlink(missing_ok=True)
    with (rt.logs / "supervisor.log").open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "mlcycle.tools.supervisor", str(spec)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, cwd=rt.home)
    record = {"pid": process.pid, "create_time": supervisor.create_time(process.pid)}
    (rt.run_dir / "supervisor.pid").write_text(json.dumps(record))
    print(f"supervisor: started (pid {process.pid}): {', '.join(c['name'] for c in components)}; "
          f"logs in {rt.logs}", flush=True)


def _airflow_health(rt: Runtime) -> dict[str, Any] | None:
    import httpx

    try:
        response = httpx.get(f"{rt.airflow_url}/api/v2/monitor/health", timeout=5)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def health(rt: Runtime) -> dict[str, tuple[bool, str]]:
    """Each component: healthy?, and what says so (its socket, health page, or Airflow's job heartbeat).

    A component the supervisor does not report running is down, whatever its last heartbeat says; an
    Airflow job counts only with a heartbeat from its current process."""
    states = read_status(rt).get("components", {}) if supervisor_pid(rt) else {}
    airflow = _airflow_health(rt)
    found: dict[str, tuple[bool, str]] = {}
    for c in rt.components():
        name, state = c["name"], states.get(c["name"], {})
        if c.get("gate") == "oneshot":
            found[name] = (state.get("state") == "done", state.get("state", "not started"))
            continue
        if name == "postgres":
            ok, detail = postgres.accepting(rt.home), f"socket {postgres.socket_path(rt.home)}"
        elif name == "mlflow":
            ok, detail = stack.http_ok(f"{rt.mlflow_url}/health"), f"{rt.mlflow_url}/health"
        elif name == "serving":
            ok, detail = stack.http_ok(f"{rt.serving_url}/health"), f"{rt.serving_url}/health"
        elif name == "api-server":
            ok, detail = airflow is not None, f"{rt.airflow_url}/api/v2/monitor/health"
        else:
            report = (airflow or {}).get(AIRFLOW_JOBS[name]) or {}
            beat = report.get(f"latest_{AIRFLOW_JOBS[name]}_heartbeat")
            fresh = beat is not None and dt.datetime.fromisoformat(beat).timestamp() >= state.get("since", 0) - 1
            ok, detail = report.get("status") == "healthy" and fresh, f"last heartbeat {str(beat or '-')[:19]}"
        found[name] = (ok and state.get("state") == "running", detail)
    return found


def wait_until_healthy(down: Callable[[], list[str]], what: str, timeout: float, alive: Callable[[], str | None],
                       ) -> list[str]:
    """Poll ``down()`` (the names of the components not yet healthy) until it is empty, printing each change;
    raises :class:`stack.NotReady` (with what is still down in ``.down``) at ``timeout`` or when ``alive()``
    names a reason to stop."""
    last: list[str] = []

    def ready() -> bool:
        now = down()
        if now != last:
            last[:] = now
            print(f"  {time.strftime('%H:%M:%S')}  not yet healthy: {', '.join(now) or 'none'}", flush=True)
        return not now

    try:
        stack.poll_until(ready, timeout, what, interval=2, still_alive=alive)
    except stack.NotReady as exc:
        exc.down = tuple(last)
        raise
    return last


def wait_healthy(rt: Runtime, timeout: float = 300) -> None:
    """Wait until every component is healthy, then create the promotion pool."""
    print("waiting for every component to be healthy (`make status` shows them) ...", flush=True)
    try:
        wait_until_healthy(lambda: [name for name, (ok, _) in health(rt).items() if not ok], "the embedded stack",
                           timeout, lambda: None if supervisor_pid(rt) else "the supervisor exited")
    except stack.NotReady as exc:
        raise RuntimeErrorWithFix(f"{exc}; not healthy: {', '.join(exc.down)}. See `make status` and the logs "
                                  f"in {rt.logs}") from exc
    print("every component is healthy", flush=True)
    _ensure_pool(rt)


def _ensure_pool(rt: Runtime) -> None:
    """The one-slot pool that serialises promotions (the scheduler never runs a task of a missing pool)."""
    from mlcycle import settings
    from mlcycle.tools.airflow_client import AirflowAPIError, AirflowClient

    client = AirflowClient(rt.airflow_url, USERNAME, rt.password())
    try:
        client.get(f"/pools/{settings.PROMOTION_POOL}")
    except AirflowAPIError:
        client.post("/pools", {"name": settings.PROMOTION_POOL, "slots": 1,
                               "description": "mlcycle: promotions of champion models, one at a time"})


def stop(rt: Runtime) -> None:
    """Stop the supervisor (it stops every component, PostgreSQL last), then kill anything left."""
    pid = supervisor_pid(rt)
    if pid:
        os.kill(pid, signal.SIGTERM)
        try:
            stack.poll_until(lambda: not supervisor_pid(rt), STOP_TIMEOUT, "the supervisor to stop", interval=0.5)
        except stack.NotReady:
            supervisor.kill_group(pid)
        print("supervisor: stopped, with every component", flush=True)
    else:
        print("supervisor: not running", flush=True)
    if left := _kill_leftovers(rt):
        print(f"killed {', '.join(left)}", flush=True)
    if tasks := kill_task_processes(rt.state):
        print(f"killed {tasks} task process(es) still running", flush=True)


def kill_task_processes(state: Path) -> int:
    """Kill the Airflow task processes working in ``state`` (a stack's MLCYCLE_HOME, where the supervisor
    starts every component). Executors start each task in a session of its own, so stopping the components'
    process groups leaves a running (or parked) task behind; it is known by its title,
    ``airflow worker -- <task instance id>``. Returns how many were killed."""
    import psutil

    killed, folder = 0, str(Path(state).resolve())
    for process in psutil.process_iter(["cmdline", "cwd"]):
        if " ".join(process.info["cmdline"] or []).startswith("airflow worker --") and process.info["cwd"] == folder:
            with contextlib.suppress(psutil.Error):
                process.kill()
                killed += 1
    return killed


def _when(stamp: float | None) -> str:
    return dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S") if stamp else "-"


def print_status(rt: Runtime) -> int:
    """Print each component (pid, state, up since, restarts, health); 1 when one is down, else 0."""
    pid = supervisor_pid(rt)
    status = read_status(rt) if pid else {}
    database = "embedded PostgreSQL" if rt.embedded_postgres else "external PostgreSQL" if rt.database_url else "SQLite"
    running = f"pid {pid}, up since {_when(status.get('started'))}" if pid else "not running"
    print(f"supervisor: {running}; database: {database}")
    rows = [("component", "pid", "state", "up since", "restarts", "health")]
    checks = health(rt)
    for name, (ok, detail) in checks.items():
        c = status.get("components", {}).get(name, {})
        state = c.get("state", "down") if pid else "down"
        if state == "backoff":
            state = f"restart in {max(0, (c.get('retry_at') or 0) - time.time()):.0f}s"
        rows.append((name, str(c.get("pid") or "-"), state, _when(c.get("since")) if pid else "-",
                     str(c.get("restarts", "-")), f"{'ok' if ok else 'DOWN'}  {detail}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5])
    print(f"logs: {rt.logs}/<component>.log; Airflow's task logs: {rt.airflow_home / 'logs'}")
    return 0 if pid and all(ok for ok, _ in checks.values()) else 1
