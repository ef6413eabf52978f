"""Measuring one stack: start it, alert bursts, kill -9 per component, optionally the demo; then stop it."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench._harness.figures import say
from mlcycle.tools import stack

HANG_GUARD = 600  # seconds: a component that never comes back is reported as such, not waited for


def _runtime(ctx, database: str):
    from mlcycle.tools import runtime

    return runtime.Runtime(home=ctx.home / f"stack-{database}", airflow_port=stack.free_port(),
                           mlflow_port=stack.free_port(), database=database)


def _env(rt) -> dict[str, str]:
    return {**os.environ, "MLCYCLE_HOME": str(rt.home), "AIRFLOW_PORT": str(rt.airflow_port),
            "MLFLOW_PORT": str(rt.mlflow_port), "MLCYCLE_DATABASE": rt.database}


def _command(rt, module: str, *args: str, log: str, check: bool = True) -> float | None:
    """Run ``python -m <module>`` against the stack; returns its wall time, or None when it failed and
    ``check`` is false (its output goes to ``log``)."""
    began = time.perf_counter()
    with (rt.home / log).open("ab") as out:
        done = subprocess.run([sys.executable, "-m", module, *args], env=_env(rt), stdout=out,
                              stderr=subprocess.STDOUT, check=check, timeout=3600)
    return time.perf_counter() - began if done.returncode == 0 else None


def stack_figures(ctx, database: str, bursts: list[int], demo: bool) -> dict[str, Any]:
    rt = _runtime(ctx, database)
    rt.home.mkdir(parents=True, exist_ok=True)
    say(f"\n  {database}: starting a stack in {rt.home} ...")
    figures: dict[str, Any] = {"start": _command(rt, "mlcycle.tools.runtime", "start", log="start.log")}
    saved = os.environ.get("MLCYCLE_HOME")
    os.environ["MLCYCLE_HOME"] = str(rt.home)  # the Asset URIs of the alerts name this stack's lake
    try:
        from mlcycle.tools.airflow_client import AirflowClient

        AirflowClient(rt.airflow_url, "admin", rt.password()).wait_for_dags(["train_flights"], timeout=300)
        figures["bursts"] = {n: burst(rt, n) for n in bursts}
        figures["kills"] = kills(rt)
        if demo:
            seconds = figures["demo"] = _command(rt, "mlcycle.tools.demo", log="demo.log", check=False)
            outcome = f"took {seconds:.0f} s" if seconds else f"failed, see {rt.home / 'demo.log'}"
            say(f"  {database}: demo {outcome}")
    finally:
        os.environ["MLCYCLE_HOME"] = saved or ""
        _command(rt, "mlcycle.tools.runtime", "stop", log="stop.log")
    return figures


def burst(rt, n: int) -> dict[str, Any]:
    """``n`` alerts at once, each through :func:`alerts.send_alert` (login, look-up by id, post, retries)."""
    from mlcycle.tools import alerts
    from mlcycle.tools.airflow_client import AirflowAPIError, AirflowClient

    tag = uuid.uuid4().hex[:8]

    def one(i: int):
        extra = alerts.alert_extra("flights", f"bench burst {n}", f"bench-{tag}-{i}", ["temp"])
        began = time.monotonic()
        try:
            return alerts.send_alert(lambda: AirflowClient(rt.airflow_url, "admin", rt.password(), 30),
                                     "flights", extra)
        except AirflowAPIError as exc:  # refused (4xx): not retried, counted as given up
            return alerts.Outcome("gave up", extra["alert_id"], 1, time.monotonic() - began, reason=str(exc))

    with ThreadPoolExecutor(n) as pool:
        outcomes = list(pool.map(one, range(n)))
    recorded = _recorded(rt, f"bench-{tag}-")
    latencies = sorted(o.seconds for o in outcomes)
    figures = {"accepted": sum(o.status == "accepted" for o in outcomes),
               "duplicate": sum(o.status == "duplicate" for o in outcomes),
               "gave_up": sum(o.status == "gave up" for o in outcomes),
               "retried": sum(o.tries > 1 for o in outcomes), "recorded": recorded, "lost": n - recorded,
               "p50": statistics.median(latencies), "p99": latencies[min(n - 1, round(0.99 * (n - 1)))],
               "reasons": sorted({o.reason[:80] for o in outcomes if o.reason})}
    say(f"  {rt.database}: burst {n}: {figures}")
    return figures


def _recorded(rt, prefix: str) -> int:
    from mlcycle.tools.airflow_client import AirflowClient

    client = AirflowClient(rt.airflow_url, "admin", rt.password())
    events = client.get("/assets/events", limit=1000, order_by="-timestamp")["asset_events"]
    return len({e["extra"].get("alert_id") for e in events if str(e["extra"].get("alert_id", "")).startswith(prefix)})


def kills(rt) -> dict[str, float | None]:
    """Seconds from ``kill -9`` of each long-running component to every component healthy again."""
    from mlcycle.tools import control

    found: dict[str, float | None] = {}
    for c in rt.components():
        if c.get("gate") == "oneshot":
            continue
        stack.poll_until(lambda: all(ok for ok, _ in control.health(rt).values()), HANG_GUARD, "a healthy stack")
        pid = control.read_status(rt)["components"][c["name"]]["pid"]
        began = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        try:
            stack.poll_until(lambda name=c["name"], pid=pid: control.read_status(rt)["components"][name]["pid"]
                             not in (None, pid) and all(ok for ok, _ in control.health(rt).values()),
                             HANG_GUARD, c["name"], interval=0.5)
            found[c["name"]] = time.perf_counter() - began
        except stack.NotReady:
            found[c["name"]] = None
        say(f"  {rt.database}: kill -9 {c['name']}: healthy again after {found[c['name']]} s")
    return found
