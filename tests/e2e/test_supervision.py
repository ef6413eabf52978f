"""Faults on the session's embedded stack: components killed with ``kill -9``, and a stop and start.

    scheduler  killed while a day is ingested: the supervisor restarts it, Airflow resets the orphaned task,
               the run succeeds, and the partition is byte for byte what an undisturbed ingest writes
    triggerer  killed while the landing sensor is deferred: a new triggerer takes the trigger over, and
               the sensor completes once the file lands
    restart    ``runtime.stop`` then ``runtime.start``: every run, model version, alias and partition is kept

The pids come from the supervisor's status file. Airflow's recovery timeouts are seconds here
(``FAST_RECOVERY`` in conftest.py), not its default minutes.
"""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import pytest

from conftest import local_state
from mlcycle.tools.stack import NotReady, poll_until

pytestmark = pytest.mark.e2e
KILLED_SCHEDULER_DAY = "2013-01-08"
KILLED_TRIGGERER_DAY = "2013-01-09"
HANG_GUARD = 900  # a liveness bound against a stuck CI run, never a performance limit


def _wait(what: str, done, interval: float = 2):
    try:
        return poll_until(done, HANG_GUARD, what, interval=interval)
    except NotReady as exc:
        pytest.fail(f"timed out: {exc}")


def _component(rt, name: str) -> dict:
    from mlcycle.tools import control

    return control.read_status(rt)["components"][name]


def _kill(rt, name: str) -> int:
    """``kill -9`` the component's process (the pid the supervisor reports); returns that pid."""
    pid = _component(rt, name)["pid"]
    assert pid, f"{name} is not running"
    os.kill(pid, signal.SIGKILL)
    return pid


def _restarted(rt, name: str, old_pid: int, restarts: int) -> None:
    from mlcycle.tools import control

    _wait(f"{name} to be restarted and healthy", lambda: _component(rt, name)["pid"] not in (None, old_pid)
          and _component(rt, name)["restarts"] > restarts and control.health(rt)[name][0])


def _task_state(client, dag_id: str, run_id: str, task_id: str) -> str | None:
    tis = client.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]
    return next((ti["state"] for ti in tis if ti["task_id"] == task_id), None)


def _run_state(client, dag_id: str, run_id: str) -> str:
    return client.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"]


def _md5(uri: str) -> str:
    from mlcycle.core import lake, storage

    return hashlib.md5(Path(storage.local_path(f"{uri}/{lake.DATA_FILE}")).read_bytes()).hexdigest()


def _undisturbed_md5(config, ds: str, home: Path) -> str:
    """The raw partition of ``ds`` as a plain ingest writes it in a state folder of its own."""
    from mlcycle import settings
    from mlcycle.core import lake
    from mlcycle.sources import nycflights
    from mlcycle.stages import ingestion

    with pytest.MonkeyPatch.context() as patch:
        local_state(patch, home)
        nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
        ingestion.ingest_day(config, ds)
        return _md5(lake.partition("raw", config.name, ds))


def test_a_killed_scheduler_is_restarted_and_the_day_is_ingested_as_if_nothing_happened(stack, tmp_path):
    from mlcycle import settings
    from mlcycle.core import lake
    from mlcycle.sources import nycflights

    client, rt, ds = stack.client, stack.rt, KILLED_SCHEDULER_DAY
    nycflights.land_day(ds, settings.landing_uri(), stack.config.landing_path(ds))
    (run,) = client.run_days("ingest_flights", [ds])
    run_id = run["dag_run_id"]
    _wait("the ingest task to run", lambda: _task_state(client, "ingest_flights", run_id, "ingest") == "running"
          or _run_state(client, "ingest_flights", run_id) == "success", interval=0.5)
    assert _run_state(client, "ingest_flights", run_id) != "success", "the day was ingested before the kill"
    restarts = _component(rt, "scheduler")["restarts"]
    _restarted(rt, "scheduler", _kill(rt, "scheduler"), restarts)
    _wait("the ingest run to finish", lambda: _run_state(client, "ingest_flights", run_id) in ("success", "failed"))
    assert _run_state(client, "ingest_flights", run_id) == "success"
    assert _md5(lake.partition("raw", "flights", ds)) == _undisturbed_md5(stack.config, ds, tmp_path / "undisturbed")


def test_a_killed_triggerer_is_restarted_and_the_deferred_sensor_completes_when_the_file_lands(stack):
    from mlcycle import settings
    from mlcycle.sources import nycflights

    client, rt, ds = stack.client, stack.rt, KILLED_TRIGGERER_DAY
    (run,) = client.run_days("ingest_flights", [ds])
    run_id = run["dag_run_id"]
    _wait("the landing sensor to defer", lambda: _task_state(client, "ingest_flights", run_id, "wait_for_file")
          == "deferred")
    restarts = _component(rt, "triggerer")["restarts"]
    _restarted(rt, "triggerer", _kill(rt, "triggerer"), restarts)
    assert _task_state(client, "ingest_flights", run_id, "wait_for_file") == "deferred"
    nycflights.land_day(ds, settings.landing_uri(), stack.config.landing_path(ds))
    _wait("the ingest run to finish", lambda: _run_state(client, "ingest_flights", run_id) in ("success", "failed"))
    assert _run_state(client, "ingest_flights", run_id) == "success"
    assert _task_state(client, "ingest_flights", run_id, "wait_for_file") == "success"


def _snapshot(client) -> dict:
    """What a restart must keep: runs and their states, model versions and aliases, lake partitions."""
    from mlcycle.core import registry, storage

    dags = [d["dag_id"] for d in client.get("/dags", limit=1000)["dags"]]
    runs = {d: sorted((r["dag_run_id"], r["state"]) for r in client.dag_runs(d)) for d in dags}
    versions = sorted((int(v.version), v.run_id) for v in registry.client().search_model_versions("name = 'flights'"))
    aliases = {a: registry.alias_version("flights", a) for a in (registry.CHAMPION, registry.CHALLENGER)}
    lake_days = {z: storage.list_partitions(z, "flights") for z in ("raw", "validated", "predictions")}
    return {"runs": runs, "versions": versions, "aliases": aliases, "lake": lake_days}


def test_stopping_and_starting_the_stack_keeps_every_run_version_alias_and_partition(stack, capsys):
    from mlcycle.tools import control, runtime

    client, rt = stack.client, stack.rt
    def settled() -> bool:
        dags = [d["dag_id"] for d in client.get("/dags", limit=1000)["dags"]]
        return not [r for d in dags for r in client.dag_runs(d) if r["state"] in ("queued", "running")]

    _wait("every run to settle", settled, interval=5)
    before = _snapshot(client)
    assert before["versions"]
    assert before["lake"]["raw"]
    runtime.stop(rt)
    assert control.supervisor_pid(rt) is None
    assert not any(ok for ok, _ in control.health(rt).values())
    assert control.print_status(rt) == 1, "make status fails while the stack is down"
    runtime.start(rt)
    assert control.print_status(rt) == 0
    assert _snapshot(client) == before
    printed = capsys.readouterr().out
    assert "supervisor: not running" in printed
    assert "scheduler      " in printed
