"""Inside worker processes: timed imports, phases, timing shims around calls, loading a DAG file.

Shims replace a function on its module or class, in the worker process only: plugin code is never
changed.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._harness.workers import emit

ImportGroups = list[tuple[str, list[str]]]


def import_groups(groups: ImportGroups, after: Callable[[str, float], None] | None = None) -> dict[str, float]:
    """Import each group's modules, one group after the other; seconds per group label.

    Incremental: a dependency shared by two groups counts to the first. ``after(label, seconds)`` is
    called as each group ends.
    """
    seconds = {}
    for label, modules in groups:
        start = time.perf_counter()
        for module in modules:
            importlib.import_module(module)
        seconds[label] = time.perf_counter() - start
        if after:
            after(label, seconds[label])
    return seconds


class Phases:
    """Consecutive phases of a worker: each :meth:`lap` times one since the previous and sends a
    ``phase`` event; ``seconds`` keeps them by key."""

    def __init__(self, start: float | None = None) -> None:
        self.mark = time.perf_counter() if start is None else start
        self.seconds: dict[str, float] = {}

    def lap(self, name: str, key: str | None = None) -> float:
        now = time.perf_counter()
        elapsed = self.seconds[key or name] = now - self.mark
        emit("phase", name=name, seconds=elapsed)
        self.mark = now
        return elapsed


class CallTimer:
    """Time spent in wrapped calls, by category; a wrapped call made inside another counts to the outer one.

    ``key`` maps a category to the key it is counted under (e.g. with the step running now).
    """

    def __init__(self, key: Callable[[str], Any] = lambda category: category) -> None:
        self.seconds: dict[Any, float] = defaultdict(float)
        self.calls: dict[Any, int] = defaultdict(int)
        self.depth = 0
        self.key = key

    def wrap(self, owner: Any, name: str, category: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            if self.depth:
                return original(*args, **kwargs)
            self.depth += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.depth -= 1
                key = self.key(category)
                self.seconds[key] += time.perf_counter() - start
                self.calls[key] += 1

        setattr(owner, name, wrapper)

    def wrap_if_present(self, owner: Any, name: str, category: str) -> None:
        """Wrap a library internal that another version may not have."""
        if callable(getattr(owner, name, None)):
            self.wrap(owner, name, category)

    def figures(self) -> dict[Any, dict[str, float]]:
        return {key: {"calls": self.calls[key], "seconds": seconds} for key, seconds in self.seconds.items()}


class TaskTimer:
    """Time a module's functions wherever they are called from (Airflow's operators call them at run
    time): seconds and the last return value by name; ``current`` names the one running now."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.returned: dict[str, Any] = {}
        self.current = "other"

    def wrap(self, owner: Any, name: str, key: str | None = None) -> None:
        original, key = getattr(owner, name), key or name

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            self.current = key
            start = time.perf_counter()
            try:
                self.returned[key] = original(*args, **kwargs)
                return self.returned[key]
            finally:
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - start
                self.current = "other"

        setattr(owner, name, wrapper)


def load_dag_file(path: Path):
    """Execute a DAG file as a module of its own (as Airflow's DAG processor does); return the module."""
    name = f"bench_dagfile_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def dag_test(dag, phases: Phases, name: str, key: str, **kwargs: Any) -> str:
    """``dag.test(**kwargs)`` timed as the next of ``phases``; the run's final state."""
    run = dag.test(**kwargs)
    phases.lap(name, key)
    return str(getattr(run.state, "value", run.state))
