"""Worker processes and their event channel; setup commands; runs that alternate the paths.

A worker is ``python -m bench.<module> <command> ...``. It reports by printing lines that start
with :data:`MARK` followed by JSON (see :func:`emit`); everything else it prints (Airflow logs,
warnings) goes to a log file under the temporary home, shown only when the worker fails.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._harness.env import REPO, require_isolated
from bench._harness.figures import say, secs

MARK = "@@bench "


class BenchError(RuntimeError):
    """A benchmark could not produce its figures (a worker failed); the message says where to look."""


_channel = None


def open_channel() -> None:
    """Worker side, first thing: keep a private copy of stdout for events.

    Airflow may redirect ``sys.stdout`` while it runs tasks; events must still reach the benchmark.
    """
    global _channel
    if _channel is None:
        _channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)


def emit(kind: str, **data: Any) -> None:
    """Worker side: send one event to the benchmark process."""
    open_channel()
    _channel.write(MARK + json.dumps({"kind": kind, **data}, default=str) + "\n")
    _channel.flush()


def worker_main(module: str, commands: dict[str, Callable[[], None]], argv: list[str]) -> None:
    """Entry point of a worker process (``python -m <module>``): run one named command, report errors."""
    require_isolated()
    open_channel()
    if not argv or argv[0] not in commands:
        benchmark = module.split(".")[1]
        sys.exit(f"usage: python -m {module} {{{','.join(commands)}}} ... "
                 f"(internal; run `python -m bench {benchmark}`)")
    try:
        commands[argv[0]]()
    except Exception as exc:
        emit("error", message=f"{type(exc).__name__}: {exc}")
        raise


@dataclass
class WorkerResult:
    wall: float  # seconds from spawn to exit, measured by the benchmark process
    events: list[dict[str, Any]] = field(default_factory=list)
    log: Path | None = None

    def last(self, kind: str) -> dict[str, Any]:
        found = [e for e in self.events if e["kind"] == kind]
        if not found:
            raise BenchError(f"worker sent no '{kind}' event; see its log {self.log}")
        return found[-1]

    def outcome(self, label: str) -> dict[str, Any]:
        """The ``result`` event, with the process's wall time; an error if it lists problems."""
        outcome = self.last("result")
        if outcome.get("problems"):
            raise BenchError(f"{label} did not do the work: {'; '.join(outcome['problems'])}; log {self.log}:\n"
                             f"{tail(self.log)}")
        return {**outcome, "wall": self.wall}


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def print_phases(digits: int = 1) -> Callable[[dict[str, Any]], None]:
    """An ``on_event`` for :func:`run_worker`: each phase on the current line, as it ends."""
    def on_event(event: dict[str, Any]) -> None:
        if event["kind"] == "phase":
            say(f"{event['name']} {secs(event['seconds'], digits)}, ", end="")
    return on_event


def run_worker(module: str, args: Iterable[str], log: Path, *, env: dict[str, str] | None = None,
               on_event: Callable[[dict[str, Any]], None] | None = None, timeout: float = 600) -> WorkerResult:
    """Run ``python -m <module> <args>`` in a fresh process; collect its events, log the rest.

    ``timeout`` only guards against a hung worker (it is not a performance threshold).
    """
    command = [sys.executable, "-m", module, *args]
    result = WorkerResult(wall=0.0, log=log)
    start = time.perf_counter()
    with log.open("w") as sink:
        sink.write(f"$ {' '.join(command)}\n")
        sink.flush()
        proc = subprocess.Popen(command, cwd=REPO, env={**os.environ, **(env or {})}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(MARK):
                    event = json.loads(line[len(MARK):])
                    result.events.append(event)
                    if on_event:
                        on_event(event)
                else:
                    sink.write(line)
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    result.wall = time.perf_counter() - start
    if code != 0:
        why = f"was killed after {timeout:.0f} s (hang guard)" if killed.is_set() else f"exited with code {code}"
        raise BenchError(f"worker `{module} {' '.join(args)}` {why}; log {log}:\n{tail(log)}")
    failures = [e for e in result.events if e["kind"] == "error"]
    if failures:
        raise BenchError(f"worker `{module} {' '.join(args)}` failed: {failures[-1].get('message')}\n"
                         f"log {log}:\n{tail(log)}")
    return result


def run_command(what: str, command: list[str], log: Path, timeout: float, env: dict[str, str] | None = None) -> None:
    """A setup command (not measured), its output to ``log``; a failure or a hang is a :class:`BenchError`."""
    with log.open("w") as sink:
        try:
            done = subprocess.run(command, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, check=False,
                                  env={**os.environ, **(env or {})}, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"{what} was killed after {timeout:.0f} s (hang guard); log {log}") from exc
    if done.returncode:
        raise BenchError(f"{what} failed (exit {done.returncode}); log {log}:\n{tail(log)}")


def airflow_command(ctx, args: list[str], log_name: str, env: dict[str, str] | None = None) -> None:
    """``python -m airflow <args>`` as a setup command, e.g. ``db migrate`` of the benchmark's metadata DB."""
    run_command(f"airflow {' '.join(args)}", [sys.executable, "-m", "airflow", *args], ctx.logs / log_name,
                ctx.args.timeout, env)


def alternating(kinds: list[str], repeat: int, measure: Callable[[str, int], dict[str, Any]]
                ) -> dict[str, list[dict[str, Any]]]:
    """``measure(kind, index)`` of every path ``repeat`` times, the order reversed every other time so
    that no path always runs first (or warmer)."""
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for i in range(repeat):
        for kind in kinds if i % 2 == 0 else kinds[::-1]:
            runs[kind].append(measure(kind, i))
    return runs


def children_cpu() -> float:
    """CPU seconds of this process's finished (waited-for) children so far: the workers' CPU time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
