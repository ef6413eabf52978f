"""Faults injected on the native production topology; each run must finish with nothing lost, nothing
duplicated and nothing partial: the day's raw partition has the same md5 and the same objects on S3 as
its undisturbed run, and its run of ``ingest_flights`` succeeds.

    worker   kill -9 of the Celery worker running the ingest task: Airflow notices the silent task within
             seconds (FAST_RECOVERY), retries it on a worker, and it succeeds
    s3       the S3 stand-in answers 503 SlowDown (the loopback proxy) while a run starts: tasks retry
    postgres PostgreSQL stopped and restarted while the ingest task runs: the components reconnect
    redis    Redis restarted while a task waits in its queue (workers paused): the message is still there
             after the restart (append-only file), and the task runs
    mlflow   MLflow hung (SIGSTOP) when register starts: a clear failure, the retry registers the version
             once (one history record, one champion)
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable

import pytest

from mlcycle.tools.stack import poll_until

pytestmark = pytest.mark.topology
GUARD = 600  # seconds; only stops a stuck run from hanging CI


def _components(stack) -> dict:
    from mlcycle.tools import control

    return control.read_status(stack.rt)["components"]


def _signal(stack, name: str, sig: int) -> None:
    """Signal a component's process group (gone already: the supervisor replaced it, nothing to do)."""
    pid = _components(stack)[name]["pid"]  # None while the supervisor waits to restart it
    with contextlib.suppress(ProcessLookupError, TypeError):
        os.killpg(pid, sig)


def _tis(stack, run_id: str) -> list[dict]:
    return stack.client.get(f"/dags/ingest_flights/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]


def _published(stack, ds: str) -> tuple[str, list[str]]:
    """The raw partition's md5 and its objects on S3 (keys and sizes)."""
    from mlcycle.core import lake, storage

    md5 = storage.read_manifest(lake.partition("raw", "flights", ds))["md5"]
    prefix = f"lake/raw/flights/ds={ds}/"
    objects = stack.rt.s3().list_objects_v2(Bucket="mlcycle", Prefix=prefix).get("Contents", [])
    return md5, sorted(f"{o['Key']}:{o['Size']}" for o in objects)


def _undisturbed(stack, ds: str) -> tuple[str, list[str]]:
    """The day as an undisturbed run published it (runs one when the chain module did not)."""
    from mlcycle import settings
    from mlcycle.core import storage
    from mlcycle.sources import nycflights

    try:
        return _published(stack, ds)
    except storage.PartitionNotFound:
        nycflights.land_day(ds, settings.landing_uri(), stack.config.landing_path(ds))
        _finish(stack, stack.client.trigger("ingest_flights", conf={"from_date": ds, "to_date": ds}))
        return _published(stack, ds)


def _finish(stack, run: dict, during: Callable[[list[dict]], bool] = lambda _: True) -> list[dict]:
    """Wait for ``run`` to finish; ``during(task instances)`` is called on the way until it returns True."""
    pending = [during]

    def done() -> list[dict] | None:
        tis = _tis(stack, run["dag_run_id"])
        if pending and pending[0](tis):
            pending.clear()
        state = next(r["state"] for r in stack.client.dag_runs("ingest_flights")
                     if r["dag_run_id"] == run["dag_run_id"])
        return tis if state in ("success", "failed") and not pending else None

    tis = poll_until(done, GUARD, f"ingest run {run['dag_run_id']}", interval=0.5)
    states = {ti["task_id"]: ti["state"] for ti in tis}
    assert set(states.values()) == {"success"}, states
    return tis


def _redo(stack, ds: str, during: Callable[[list[dict]], bool]) -> list[dict]:
    before = _undisturbed(stack, ds)
    run = stack.client.trigger("ingest_flights", conf={"from_date": ds, "to_date": ds})
    tis = _finish(stack, run, during)
    assert _published(stack, ds) == before, "the redone day differs from its undisturbed run"
    return tis


def _running(tis: list[dict], task: str = "ingest") -> dict | None:
    return next((ti for ti in tis if ti["task_id"] == task and ti["state"] == "running" and ti.get("pid")), None)


def test_a_worker_killed_mid_task_is_retried_and_the_partition_equals_the_undisturbed_run(stack):
    killed = []

    def kill_the_worker(tis: list[dict]) -> bool:
        """SIGKILL the worker running the task with every process under it, as a dead container would
        (Airflow starts the task's process in a session of its own)."""
        import psutil

        ti = _running(tis)
        if ti is None:
            return False
        workers = {c["pid"]: n for n, c in _components(stack).items() if n.startswith("worker-")}
        try:
            worker_pid = next(p.pid for p in psutil.Process(ti["pid"]).parents() if p.pid in workers)
        except (psutil.Error, StopIteration):
            return False  # not started yet, or gone: look again
        tree = psutil.Process(worker_pid).children(recursive=True)
        os.killpg(worker_pid, signal.SIGKILL)
        for process in tree:
            with contextlib.suppress(psutil.Error):
                process.kill()
        killed.append(workers[worker_pid])
        return True

    tis = _redo(stack, "2013-07-01", kill_the_worker)
    assert killed, "the ingest task was never seen running"
    ingest = next(ti for ti in tis if ti["task_id"] == "ingest")
    assert ingest["try_number"] >= 2, "the killed try was retried"
    poll_until(lambda: _components(stack)[killed[0]]["state"] == "running", 120, "the worker's restart")


def test_s3_answering_503_makes_tasks_retry_and_succeed(stack):
    from mlcycle.tools import faultproxy

    control = stack.rt.run_dir / "s3-proxy.json"
    started = []

    def heal_after_a_failed_try(tis: list[dict]) -> bool:
        started.append(time.monotonic()) if not started else None
        failed = any(ti["try_number"] >= 2 or ti["state"] in ("up_for_retry", "failed") for ti in tis)
        if failed or time.monotonic() - started[0] > 60:
            faultproxy.set_mode(control, "pass")
            return True
        return False

    before = _undisturbed(stack, "2013-07-02")
    faultproxy.set_mode(control, "5xx")
    try:
        run = stack.client.trigger("ingest_flights", conf={"from_date": "2013-07-02", "to_date": "2013-07-02"})
        tis = _finish(stack, run, heal_after_a_failed_try)
    finally:
        faultproxy.set_mode(control, "pass")
    assert _published(stack, "2013-07-02") == before
    answered = (stack.rt.logs / "s3-proxy.log").read_text().count("fault 5xx: ")
    assert answered, "the run met the 503s"
    retried = max(ti["try_number"] for ti in tis)
    print(f"S3 503s answered: {answered}; highest try number {retried}")  # botocore retries first, then Airflow


def test_postgres_restarted_during_a_run_the_components_reconnect_and_the_run_completes(stack):
    from mlcycle.tools import topology_parts

    restarts = _components(stack)["postgres"]["restarts"]

    def restart_postgres(tis: list[dict]) -> bool:
        if _running(tis) is None:
            return False
        _signal(stack, "postgres", signal.SIGINT)  # fast shutdown; the supervisor starts it again
        return True

    _redo(stack, "2013-07-03", restart_postgres)
    assert _components(stack)["postgres"]["restarts"] == restarts + 1
    topology_parts.wait_healthy(stack.rt, timeout=300)


def test_redis_restarted_with_a_task_in_its_queue_keeps_it_and_the_task_runs(stack):
    import redis

    t = stack.rt
    broker = redis.Redis(host="127.0.0.1", port=t.port["redis"], password=t.variables["REDIS_PASSWORD"])
    assert broker.config_get("appendonly") == {"appendonly": "yes"}
    workers = [n for n in _components(stack) if n.startswith("worker-")]
    for name in workers:
        _signal(stack, name, signal.SIGSTOP)
    try:
        before = _undisturbed(stack, "2013-07-01")
        run = stack.client.trigger("ingest_flights", conf={"from_date": "2013-07-01", "to_date": "2013-07-01"})
        poll_until(lambda: broker.llen("default") > 0, 120, "a task message in Redis's queue", interval=0.5)
        queued = broker.llen("default")
        _signal(stack, "redis", signal.SIGTERM)  # a clean restart; the supervisor starts it again
        poll_until(lambda: _components(stack)["redis"]["state"] == "running" and _ping(broker), 60, "Redis back")
        assert broker.llen("default") == queued, "the queued task survived the restart"
    finally:
        for name in workers:
            _signal(stack, name, signal.SIGCONT)
    _finish(stack, run)
    assert _published(stack, "2013-07-01") == before


def _ping(broker) -> bool:
    import redis

    try:
        return bool(broker.ping())
    except redis.RedisError:
        return False


def test_mlflow_down_during_register_fails_clearly_then_the_retry_registers_once(stack):
    """MLflow stopped (SIGSTOP: it hangs, as an overloaded server does) when register_flights starts: the
    try fails naming the server, the retry after MLflow is back succeeds, and the version has exactly one
    history record and the model exactly one champion."""
    from mlcycle.core import registry
    from mlcycle.stages import modelling

    config, client = stack.config, stack.client
    trained = modelling.train_model(config, stack.january[-1], cause={"type": "manual", "reason": "mlflow fault"})
    modelling.evaluate_model(config, trained["version"])
    version = trained["version"]
    _signal(stack, "mlflow", signal.SIGSTOP)
    started = time.monotonic()
    try:  # down until a try has failed; the supervisor's watchdog may restart the hung server before that
        run = client.trigger("register_flights", conf={"version": version, "reason": "mlflow fault test"})
        failed = poll_until(lambda: _failed_try(stack, run["dag_run_id"]) or time.monotonic() - started > 240,
                            GUARD, "a failed register try", interval=1)
    finally:
        _signal(stack, "mlflow", signal.SIGCONT)
    poll_until(lambda: _run_state(stack, "register_flights", run["dag_run_id"]) in ("success", "failed"), GUARD,
               "the register run")
    assert _run_state(stack, "register_flights", run["dag_run_id"]) == "success"
    if failed is not True:  # a try failed: its log says which server could not be reached
        first = stack.rt.airflow_home / "logs" / "dag_id=register_flights" / f"run_id={run['dag_run_id']}"
        log = next(first.rglob("attempt=1.log")).read_text()
        assert f"127.0.0.1:{stack.rt.port['mlflow']}" in log, "the failed try names the MLflow server"
    print(f"MLflow fault: {'a try failed, the retry registered' if failed is not True else 'no try failed'}")
    records = [r for r in registry.history("flights") if r["to_version"] == str(version)]
    assert len(records) == 1, records
    champion = registry.alias_version("flights", registry.CHAMPION)  # search results carry no aliases: ask each
    holders = [int(v.version) for v in registry.client().search_model_versions("name = 'flights'")
               if registry.CHAMPION in registry.version_info("flights", int(v.version))["aliases"]]
    assert holders == [champion], holders


def _run_state(stack, dag_id: str, run_id: str) -> str:
    return next(r["state"] for r in stack.client.dag_runs(dag_id) if r["dag_run_id"] == run_id)


def _failed_try(stack, run_id: str) -> int | None:
    """The register task's try number once a try has failed (it waits for its retry), else None."""
    tis = stack.client.get(f"/dags/register_flights/dagRuns/{run_id}/taskInstances")["task_instances"]
    ti = next((t for t in tis if t["task_id"] == "register"), None)
    return ti["try_number"] + 1 if ti and ti["state"] == "up_for_retry" else None
