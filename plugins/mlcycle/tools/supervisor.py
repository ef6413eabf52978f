"""A small process supervisor for the embedded stack: one log per component, restarts with backoff, counted.

Why not a library: honcho never restarts a process; supervisord restarts a process that dies after
``startsecs`` at once and forever, but gives one that dies sooner up (FATAL) after ``startretries``, with no
restart count; circus respawns at once, pauses a flapping watcher for a fixed ``retry_in`` (a plugin in a
process of its own), talks over three ZeroMQ endpoints (TCP ports by default) and counts no restarts
either. The need here is small: a fixed list of processes, started in order, each restarted for as long
as the stack runs with exponential backoff, and a status file that ``make status`` reads.

``python -m mlcycle.tools.supervisor <spec.json>`` runs it (the runtime starts it as a daemon in a session of
its own). The spec lists the components in start order; each has ``name``, ``argv``, ``env``, ``log`` and
optionally ``gate`` (later components wait until it has passed once: ``oneshot``, a command that must exit
0; ``unix:<path>``, a socket that accepts; ``http:<url>``, a page that answers 2xx), ``watch`` (a check of
the same kinds: a component that fails it for a minute is killed, so restarted) and ``stop_signal``.
Every component runs in a process group of its own; when it exits, what is left of its group is killed.

Signals: TERM or INT stop every component (those others wait for last) and exit; HUP starts at once, with its backoff
reset, every component that waits for a restart (``make demo`` and ``make status --repair`` send it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0  # seconds before a restart: 1, 2, 4, ... 60
STABLE = 60.0  # a component that ran this long restarts after BACKOFF_FIRST again
GRACE = 20.0  # seconds between the stop signal and SIGKILL
TICK = 0.5
WATCH_AFTER, WATCH_EVERY, WATCH_LIMIT = 180.0, 10.0, 60.0  # a watched component: checks from 3 min after its
# start, every 10 s; killed (and so restarted) when it has failed them for a minute: alive is not enough


@dataclass
class Component:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: str
    gate: str | None = None
    watch: str | None = None  # like a gate: what must keep answering while it runs
    stop_signal: str = "SIGTERM"
    process: subprocess.Popen | None = None
    state: str = "waiting"  # waiting, running, backoff, done (a oneshot that succeeded), stopped
    since: float = 0.0
    restarts: int = 0
    failures: int = 0
    retry_at: float = 0.0
    last_exit: int | None = None
    passed: bool = False
    checked: float = 0.0
    failing_since: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically (a reader never sees half a file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def create_time(pid: int) -> float | None:
    """When process ``pid`` started (with the pid, it identifies a process across pid reuse); None when it is
    gone or a zombie (dead, not yet reaped by its parent)."""
    import psutil

    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process.create_time()
    except psutil.Error:
        return None


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _gate_passed(gate: str) -> bool:
    kind, _, target = gate.partition(":")
    if kind == "unix":
        import socket

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            return sock.connect_ex(target) == 0
    if kind == "http":  # any 2xx: Airflow's health page answers 200 while it reports another job unhealthy
        import urllib.request

        try:
            with urllib.request.urlopen(target, timeout=5) as response:
                return 200 <= response.status < 300
        except OSError:
            return False
    return False


class Supervisor:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.components = [Component(**c) for c in spec["components"]]
        self.status_path = Path(spec["status"])
        self.started = time.time()
        self.stopping = False
        self.repair = False

    def say(self, text: str) -> None:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}", flush=True)

    def spawn(self, c: Component) -> None:
        with open(c.log, "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: starting {c.name} "
                      f"(restarts so far {c.restarts}): {' '.join(c.argv)}\n".encode())
            log.flush()
            try:
                c.process = subprocess.Popen(c.argv, env=c.env, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True,
                                             cwd=c.env.get("MLCYCLE_HOME"))
            except OSError as exc:
                log.write(f"=== supervisor: cannot start {c.name}: {exc}\n".encode())
                c.since = time.time()
                self.plan_restart(c, 127, 0.0)
                return
        c.state, c.since = "running", time.time()
        c.extra = {"create_time": create_time(c.process.pid)}
        self.say(f"{c.name}: started, pid {c.process.pid}")

    def exited(self, c: Component, code: int) -> None:
        """Clean up after a component that exited, and plan its restart (a oneshot that succeeded is done)."""
        assert c.process is not None
        kill_group(c.process.pid)  # what it left behind: LocalExecutor workers, PostgreSQL backends
        uptime = time.time() - c.since
        c.process, c.last_exit = None, code
        if self.stopping:
            c.state = "stopped"
            return
        if c.gate == "oneshot" and code == 0:
            c.state, c.passed, c.since = "done", True, time.time()
            self.say(f"{c.name}: done")
            return
        self.plan_restart(c, code, uptime)

    def plan_restart(self, c: Component, code: int, uptime: float) -> None:
        c.failures = 1 if uptime >= STABLE else c.failures + 1
        delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (c.failures - 1))
        c.state, c.retry_at = "backoff", time.time() + delay
        self.say(f"{c.name}: exited with {code} after {uptime:.0f}s; restart in {delay:.0f}s")
        with open(c.log, "ab") as log:
            log.write(f"=== supervisor: {c.name} exited with {code} after {uptime:.0f}s; restart in {delay:.0f}s\n"
                      .encode())

    def gates_open(self, index: int) -> bool:
        for earlier in self.components[:index]:
            if earlier.gate and not earlier.passed:
                if earlier.gate == "oneshot" or earlier.state != "running" or not _gate_passed(earlier.gate):
                    return False
                earlier.passed = True
        return True

    def watch(self, c: Component) -> None:
        """Kill a running component that has failed its ``watch`` check for WATCH_LIMIT seconds (a hang)."""
        now = time.time()
        if not c.watch or c.process is None or now - c.since < WATCH_AFTER or now - c.checked < WATCH_EVERY:
            return
        c.checked = now
        if _gate_passed(c.watch):
            c.failing_since = None
            return
        c.failing_since = c.failing_since or now
        if now - c.failing_since >= WATCH_LIMIT:
            self.say(f"{c.name}: {c.watch} failed for {now - c.failing_since:.0f}s; killing it for a restart")
            kill_group(c.process.pid)
            c.failing_since = None

    def tick(self) -> None:
        for c in self.components:
            if c.process is not None and (code := c.process.poll()) is not None:
                self.exited(c, code)
            else:
                self.watch(c)
        if self.repair:
            self.repair = False
            for c in self.components:
                if c.state == "backoff":
                    c.retry_at, c.failures = 0.0, 0
        for index, c in enumerate(self.components):
            if c.state == "waiting" and self.gates_open(index):
                self.spawn(c)
            elif c.state == "backoff" and time.time() >= c.retry_at:
                c.restarts += 1
                self.spawn(c)

    def status(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "create_time": create_time(os.getpid()), "started": self.started,
                "updated": time.time(), "stopping": self.stopping,
                "components": {c.name: {"pid": c.process.pid if c.process else None, "state": c.state,
                                        "since": c.since, "restarts": c.restarts, "last_exit": c.last_exit,
                                        "retry_at": c.retry_at if c.state == "backoff" else None,
                                        "log": c.log, "gate": c.gate, **c.extra} for c in self.components}}

    def stop_all(self) -> None:
        """Stop the components: those that others wait for (PostgreSQL) last, the rest all at once before;
        SIGKILL what is still there GRACE seconds after its stop signal."""
        self.stopping = True
        for group in ([c for c in self.components if not c.gate or c.gate == "oneshot"],
                      [c for c in self.components if c.gate and c.gate != "oneshot"]):
            running = [c for c in reversed(group) if c.process is not None]
            for c in running:
                self.say(f"{c.name}: stopping")
                kill_group(c.process.pid, getattr(signal, c.stop_signal))
            deadline = time.monotonic() + GRACE
            for c in running:
                try:
                    code = c.process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.say(f"{c.name}: still running after {GRACE:.0f}s, killed")
                    kill_group(c.process.pid)
                    code = c.process.wait()
                self.exited(c, code)
            for c in group:
                c.state = "stopped"
            write_json(self.status_path, self.status())

    def run(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "repair", True))
        self.say(f"supervisor: pid {os.getpid()}, components {[c.name for c in self.components]}")
        written, snapshot = 0.0, None
        while not self.stopping:
            self.tick()
            now = [(c.state, c.restarts, c.process.pid if c.process else None) for c in self.components]
            if now != snapshot or time.time() - written >= 5:
                write_json(self.status_path, self.status())
                written, snapshot = time.time(), now
            time.sleep(TICK)
        self.stop_all()
        write_json(self.status_path, {**self.status(), "pid": None, "stopped": time.time()})
        self.say("supervisor: every component stopped")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mlcycle.tools.supervisor <spec.json>", file=sys.stderr)
        return 2
    Supervisor(json.loads(Path(args[0]).read_text())).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
