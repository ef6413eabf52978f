"""Imported once by the scheduler's forkserver (``[scheduler] mp_forkserver_preload``): what every task
process would otherwise import again. See :func:`mlcycle.tools.stack.task_start_env`.

LocalExecutor workers are forked from that forkserver and fork each task process in turn, so a task
starts with these modules in ``sys.modules``: the stages' heavy libraries
(:data:`mlcycle.stages.libraries.ALL`), Airflow's task runner and DAG bag (the task parses its DAG file
first) and this package's DAG factory. None of them starts a thread on import (a fork after a thread
started may deadlock). A module that fails to import is logged and skipped: the task imports it itself.
"""

from __future__ import annotations

import logging

from mlcycle.stages import libraries

RUNTIME = ("airflow.executors.local_executor", "airflow.sdk.execution_time.task_runner",
           "airflow.dag_processing.dagbag", "mlcycle.orchestration.factory")
log = logging.getLogger(__name__)


def preload() -> list[str]:
    """Import :data:`RUNTIME` and the stages' libraries; the modules that could not be imported."""
    failed = []
    for name in (*RUNTIME, *libraries.ALL):
        try:
            libraries.load((name,))
        except Exception as exc:  # a preload is an optimisation: never stop the scheduler for it
            log.warning("preloading %s failed (%s: %s): tasks will import it themselves", name, type(exc).__name__, exc)
            failed.append(name)
    return failed


preload()
