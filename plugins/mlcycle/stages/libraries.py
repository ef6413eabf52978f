"""The heavy libraries the stages import at first use, by kind of task, and all of them for preloading.

A task process pays for these imports before its work starts: Great Expectations, Evidently, MLflow and
scikit-learn take seconds each, far more than one day's work. The embedded stack preloads :data:`ALL` in
the process its task processes are forked from (:mod:`mlcycle.orchestration.preload`), so a task finds
them in ``sys.modules`` already. Each operator imports its own list first
(:meth:`mlcycle.orchestration.operators.base.PipelineOperator.execute`), so that its log tells import
time from work: near nothing when preloaded.

None of these start a thread when imported (a process forked after a thread started may deadlock).
"""

from __future__ import annotations

import importlib
import logging
import time

INGEST = ("pandas", "pyarrow.parquet", "dvc.repo")
VALIDATE = (*INGEST, "great_expectations")
MODELS = (*INGEST, "sklearn.pipeline", "sklearn.compose", "sklearn.impute", "sklearn.preprocessing",
          "sklearn.metrics", "mlflow", "mlflow.models", "skops.io", "evidently", "evidently.presets",
          "evidently.metrics", "evidently.tests")
ALL = tuple(dict.fromkeys(VALIDATE + MODELS))


def load(modules: tuple[str, ...]) -> float:
    """Import ``modules`` (at once when already imported); the seconds it took."""
    # GX logs ~200 INFO lines about its own decorators on import: keep task logs readable.
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    start = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    return time.perf_counter() - start
