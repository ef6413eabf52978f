"""The production topology of docker-compose.yaml as native processes (mlcycle.tools.topology), started once
per session on free ports in a temporary folder: the embedded PostgreSQL with compose's roles, Redis
(password, append-only file) as the Celery broker, moto as S3 behind a loopback proxy that can fail, MLflow
on PostgreSQL with artifacts proxied to S3 and its basic-auth app, and Airflow with the CeleryExecutor, the
FAB auth manager and two Celery workers.

The lake, the landing zone and the DVC remote are on ``s3://`` (compose's defaults). January is seeded as
tests/e2e/conftest.py seeds it (same pipeline config, same steps), then the modules here drive July through
the scheduler. Airflow's recovery timeouts are seconds (FAST_RECOVERY), so faults are noticed quickly.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import local_state, pipelines_folder
from e2e.conftest import FAST_RECOVERY, JANUARY, _e2e_config, seed_january

# a killed worker's task is noticed in seconds (FAST_RECOVERY), a task lost between the scheduler and a worker
# is queued again after a minute, not 10. (Not Celery's visibility timeout: a message of a task running longer
# than it is delivered to a second worker, which Airflow refuses, but which costs a worker slot.)
# `make test` starts this session in the background, where the shell ignores SIGINT: take it again, so that an
# interrupted `make test` stops the topology through the fixture's teardown instead of leaving it running
signal.signal(signal.SIGINT, signal.default_int_handler)

FAULTS = {**FAST_RECOVERY, "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "60",
          # an MLflow that does not answer fails a task within about half a minute, not MLflow's default fifteen
          "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "15"}
RETRY_DELAY_SECONDS = 5  # a failed try is retried after seconds (the pipelines' default waits a minute)


def _topology_config() -> str:
    """The e2e pipeline config (a test-sized window), its tasks retried after seconds."""
    import yaml

    return yaml.safe_dump({**yaml.safe_load(_e2e_config()), "retry_delay_seconds": RETRY_DELAY_SECONDS},
                          sort_keys=False)


def _wait_for(t, names: tuple[str, ...]) -> None:
    from mlcycle.tools import stack, topology_parts

    stack.poll_until(lambda: all(topology_parts.health(t).get(n) for n in names), 420, f"{', '.join(names)}",
                     interval=1)


@pytest.fixture(scope="session")
def topology():
    """The native topology, with January validated and a champion trained on it (on S3 and the MLflow server)."""
    from mlcycle.core import object_store
    from mlcycle.core.config import load_pipeline
    from mlcycle.tools import control, topology, topology_parts
    from mlcycle.tools.airflow_client import AirflowClient

    # not under pytest's base temp folder: a concurrent pytest session of the same user may prune it (it keeps
    # three) while this one runs, and a deleted state folder takes PostgreSQL and the supervisor's files with it
    root = Path(tempfile.mkdtemp(prefix="mlcycle-topology-"))
    pipelines = pipelines_folder(root, "flights", _topology_config())
    t = topology.Topology(root / "prod", config={**FAULTS, "MLCYCLE_PIPELINES_DIR": str(pipelines)}, s3_proxy=True)
    with pytest.MonkeyPatch.context() as patch:
        local_state(patch, t.state, pipelines)
        for name, value in t.client_env().items():  # s3:// locations, the S3 connection, MLflow's service account
            patch.setenv(name, value)
        object_store.reset()
        config = load_pipeline("flights")
        try:
            t.prepare()
            control.launch(t)
            _wait_for(t, ("s3-init",))  # January is ingested and validated while Airflow starts
            seeded = seed_january(config, lambda: topology_parts.wait_healthy(t), "topology seed")
            client = AirflowClient(t.airflow_url, t.username, t.password())
            yield SimpleNamespace(rt=t, client=client, config=config, seeded=seeded, january=JANUARY)
        finally:
            control.stop(t)
            object_store.reset()
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def stack(topology):
    """What the end-to-end chain of tests/e2e expects of a stack, here the native production topology."""
    return topology
