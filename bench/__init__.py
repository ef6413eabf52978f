"""Benchmarks of the mlcycle pipeline: figures and ratios against a baseline measured in the same run.

Each benchmark is a module of this package whose name does not start with ``_``. A module provides:

* a docstring: its first line is the summary shown by ``python -m bench --list`` and ``--help``;
* ``ORDER`` (int): position when all benchmarks run (lower first; default 100);
* ``DEFAULT_REPEAT`` (int): repetitions when ``--repeat`` is not given;
* ``run(ctx)``: measure and print, given a :class:`bench._env.Context`;
* optionally ``add_arguments(group)`` for its own command-line options.

Benchmark modules import only the standard library at the top: Airflow, pandas, GX and DVC are
imported inside worker subprocesses, after the isolated environment is set (see ``bench._env``).
Benchmarks never assert on wall-clock figures; they print them next to their baseline.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def discover() -> dict[str, ModuleType]:
    """Every benchmark module of this package, keyed by name, in run order."""
    modules = [importlib.import_module(f"{__name__}.{info.name}")
               for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]
    modules = [m for m in modules if callable(getattr(m, "run", None))]
    modules.sort(key=lambda m: (getattr(m, "ORDER", 100), m.__name__))
    return {m.__name__.rsplit(".", 1)[1]: m for m in modules}


def summary(module: ModuleType) -> str:
    """First line of a benchmark module's docstring."""
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else "(no description)"
