"""Start a run of a pipeline's DAG from a shell, and follow it to the end.

Usage: ``python -m mlcycle.tools.trigger ingest_pizza --date 2015-01-17 --param from_date=2015-01-04``
(or ``make run DAG=ingest_pizza DATE=2015-01-17 ARGS="--param from_date=2015-01-04"``). It waits for the run
and prints each task's state as it changes (``--no-wait``: start it and return). A date that has a run
already, a paused DAG and an unknown DAG are refused with what to do instead. Exit status: 0 success,
1 the run failed, 2 refused, 3 still running at ``--wait-minutes``. See ``--help``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from typing import Any

from mlcycle.tools import cli
from mlcycle.tools.airflow_client import FINISHED, AirflowAPIError, AirflowClient

POLL_SECONDS = 3.0


def logical_date(text: str | None) -> str | None:
    """``YYYY-MM-DD`` (or a full ISO time) as Airflow's logical date, UTC; None stays None."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise AirflowAPIError(f"--date {text!r} is not a date: use YYYY-MM-DD, e.g. 2015-01-17") from exc
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_conf(conf: str, params: list[str]) -> dict[str, Any]:
    """The run's conf: ``--conf`` (a JSON object), then each ``--param key=value`` (JSON values, else text)."""
    try:
        merged = json.loads(conf or "{}")
    except json.JSONDecodeError as exc:
        raise AirflowAPIError(f"--conf is not JSON ({exc.msg} at character {exc.pos}): {conf!r}") from exc
    if not isinstance(merged, dict):
        raise AirflowAPIError(f"--conf must be a JSON object such as '{{\"reason\": \"x\"}}', not {conf!r}")
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise AirflowAPIError(f"--param {item!r}: use key=value, e.g. --param from_date=2015-01-04")
        try:
            merged[key] = json.loads(value)
        except json.JSONDecodeError:
            merged[key] = value
    return merged


def _pipeline_dags(client: AirflowClient, dag_id: str) -> list[dict[str, Any]]:
    """Every DAG of ``dag_id``'s pipeline (ids are ``<stage>_<pipeline>``, stages have no underscore)."""
    pipeline = dag_id.partition("_")[2] or dag_id
    found = client.get("/dags", limit=1000, dag_id_pattern=pipeline)["dags"]
    return sorted((d for d in found if d["dag_id"].partition("_")[2] == pipeline), key=lambda d: d["dag_id"])


def ready_dag(client: AirflowClient, dag_id: str, unpause: bool) -> None:
    """Refuse an unknown or a paused DAG with what to do; with ``unpause``, unpause the pipeline's DAGs (its
    stages follow each other through Assets, so a paused one would stop the chain there)."""
    try:
        dag = client.get(f"/dags/{dag_id}")
    except AirflowAPIError as exc:
        if exc.status != 404:
            raise
        near = [d["dag_id"] for d in _pipeline_dags(client, dag_id)]
        raise AirflowAPIError(f"Airflow has no DAG {dag_id!r}" + (f"; this pipeline has {', '.join(near)}" if near
                              else "; is include/pipelines/<name>.yaml there, and parsed without an import error "
                                   "(Airflow UI: Dags, the import errors banner)?"), 404) from exc
    if dag["is_paused"] and not unpause:
        raise AirflowAPIError(f"{dag_id} is paused (a new pipeline's DAGs start paused), so a run would wait "
                              "forever: unpause the pipeline's DAGs in the UI (the toggles) or pass --unpause")
    paused = [d["dag_id"] for d in _pipeline_dags(client, dag_id) if d["is_paused"]]
    if paused and unpause:
        for other in paused:
            client.request("PATCH", f"/dags/{other}", json={"is_paused": False})
        print(f"unpaused {', '.join(paused)}", flush=True)
    elif paused:
        print(f"note: {', '.join(paused)} paused: the stages after this run wait until they are unpaused "
              "(the UI's toggles, or --unpause)", flush=True)


def follow(client: AirflowClient, dag_id: str, run_id: str, minutes: float) -> str:
    """Print each task's state as it changes until the run finishes (or ``minutes`` pass); its last state."""
    seen: dict[str, str] = {}
    deadline = time.monotonic() + minutes * 60
    while True:
        run = client.get(f"/dags/{dag_id}/dagRuns/{run_id}")
        for ti in client.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)["task_instances"]:
            name = ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else "")
            state = ti.get("state") or "none"
            if seen.get(name) != state:
                seen[name] = state
                print(f"  {dt.datetime.now(dt.UTC):%H:%M:%S}  {name:<28} {state}", flush=True)
        if run["state"] in FINISHED or time.monotonic() > deadline:
            return run["state"]
        time.sleep(POLL_SECONDS)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mlcycle.tools.trigger", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("dag_id", help="e.g. ingest_pizza, validate_pizza, train_pizza, rollback_pizza")
    parser.add_argument("--date", help="the run's logical date, YYYY-MM-DD (a day runs once per DAG); "
                                       "default: none, as Trigger in the UI with the date unset")
    parser.add_argument("--conf", default="", help="the run's parameters as a JSON object")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="one parameter (repeatable), e.g. --param reason='first model'")
    parser.add_argument("--unpause", action="store_true", help="unpause the pipeline's paused DAGs first")
    parser.add_argument("--no-wait", dest="wait", action="store_false", help="start the run and return")
    parser.add_argument("--wait-minutes", type=float, default=60, help="give up following after (default 60)")
    cli.add_airflow_arguments(parser, timeout=30)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        conf, when = run_conf(args.conf, args.param), logical_date(args.date)
        client = cli.connect(args)
        ready_dag(client, args.dag_id, args.unpause)
        run = client.trigger(args.dag_id, conf, when)
    except AirflowAPIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"started {args.dag_id} run {run['dag_run_id']}: {args.airflow_url}/dags/{args.dag_id}/runs/"
          f"{run['dag_run_id']}", flush=True)
    if not args.wait:
        return 0
    state = follow(client, args.dag_id, run["dag_run_id"], args.wait_minutes)
    print(f"{args.dag_id} run {run['dag_run_id']}: {state}", flush=True)
    if state not in FINISHED:
        print(f"still {state} after {args.wait_minutes:g} minutes; follow it in the Airflow UI", file=sys.stderr)
        return 3
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
