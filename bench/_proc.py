"""Worker subprocesses, their event channel, and printing helpers shared by the benchmarks.

A worker is ``python -m bench.<module> <command> ...``. It reports by printing lines that start
with :data:`MARK` followed by JSON (see :func:`emit`); everything else it prints (Airflow logs,
warnings) goes to a log file under the temporary home, shown only when the worker fails.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._env import REPO

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


def worker_main(module: str, commands: dict[str, Callable[[], None]], argv: list[str]) -> None:
    """Entry point of a benchmark's worker process: run one named command, report errors on the channel."""
    from bench._env import require_isolated

    require_isolated()
    open_channel()
    if not argv or argv[0] not in commands:
        sys.exit(f"usage: python -m bench.{module} {{{','.join(commands)}}} ... "
                 f"(internal; run `python -m bench {module}`)")
    try:
        commands[argv[0]]()
    except Exception as exc:
        emit("error", message=f"{type(exc).__name__}: {exc}")
        raise


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


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


def say(text: str = "", end: str = "\n") -> None:
    """Progress and results: always flushed, so `make bench` shows them as they happen."""
    print(text, end=end, flush=True)


def header(title: str) -> None:
    say()
    say(f"== {title} ==")


def secs(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base > 0 else "n/a"


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(rows: list[list[str]], header_row: list[str], right: Iterable[int] = ()) -> None:
    """Print a plain-text table; columns listed in ``right`` are right-aligned."""
    right = set(right)
    cells = [header_row, *rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header_row))]

    def line(row: list[str]) -> str:
        cells = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        return "  ".join(cells)

    say("  " + line(header_row).rstrip())
    say("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        say("  " + line(row).rstrip())
