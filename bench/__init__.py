"""Benchmarks of the mlcycle pipeline: figures and ratios against a baseline measured in the same run.

Each benchmark is a module or a package of this package whose name does not start with ``_``
(a small one is a module ``bench/<name>.py``; a large one a package ``bench/<name>/`` whose
``__init__`` holds what follows, its workers in ``bench/<name>/workers.py``). It provides:

* a docstring: its first line is the summary shown by ``python -m bench --list`` and ``--help``;
* ``ORDER`` (int): position when all benchmarks run (lower first; default 100);
* ``DEFAULT_REPEAT`` (int): repetitions when ``--repeat`` is not given;
* ``run(ctx)``: measure and print, given a :class:`bench._harness.env.Context`;
* optionally ``add_arguments(group)`` for its own command-line options.

What they share (isolation, worker processes, timing, tables and ratios) is ``bench._harness``.
Benchmark modules import only the standard library and ``bench._harness`` at the top: Airflow, pandas,
GX and DVC are imported inside worker subprocesses, after the isolated environment is set (see
``bench._harness.env``). Benchmarks never assert on wall-clock figures; they print them next to their
baseline.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

# The local stack comes from mlcycle.tools.stack: this repository's, also without PYTHONPATH=plugins.
_PLUGINS = str(Path(__file__).resolve().parents[1] / "plugins")
if _PLUGINS not in sys.path:
    sys.path.insert(0, _PLUGINS)


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
