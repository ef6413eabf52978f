"""``make demo``: the whole lifecycle of real 2013 flights on the embedded Airflow + MLflow stack.

1. January: land daily CSVs; the scheduler ingests them, validate follows on ``raw.flights``;
   the first model is trained by hand and the Evidently gate makes it the champion.
2. July, a new season: the days land; score and monitor follow on ``validated.flights``; the
   monitor finds drift against the champion's own training data and raises ``drift.flights``;
   ``train_flights`` runs on that Asset; evaluate (the gate: a paired comparison with the champion on
   roc_auc; log loss is a ceiling) and register decide the new champion.
3. One more July day: it is scored by whatever the gate left as champion. Meanwhile a deliberately
   worse candidate, the ``dummy_classifier`` baseline (the base rate for every flight, whatever its
   features) trained on the same July window, goes through the same gate and is rejected, with its reasons.

It ends with a summary (runs, drift events, versions and aliases, URLs, login) and leaves the
services up until ``make stop``. The summary shows data (reasons, column names, tags): control
characters are dropped from it, so no value can move the cursor or recolour the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from mlcycle import settings
from mlcycle.core import storage
from mlcycle.core.config import load_pipeline
from mlcycle.sources import landing, nycflights
from mlcycle.stages import ingestion
from mlcycle.tools import runtime
from mlcycle.tools.airflow_client import FINISHED, AirflowClient
from mlcycle.tools.demo_summary import model_summary, states, summary, terminal_safe

_last_progress = [""]


def _progress(line: str) -> None:
    """Print a progress line when it differs from the last one, with the time."""
    if line != _last_progress[0]:
        _last_progress[0] = line
        print(f"  {time.strftime('%H:%M:%S')}  {line}", flush=True)


def _check(client: AirflowClient, deadline: float, timeout: float) -> None:
    if not client.scheduler_healthy():  # the supervisor restarts it: say so, and go on waiting
        _progress("the scheduler is not healthy (restarting?): `make status` shows it, .state/logs/scheduler.log")
    if time.monotonic() > deadline:
        raise SystemExit(f"not finished within {timeout:.0f}s; see the Airflow UI and `make status`")


def wait_for_pipeline(client: AirflowClient, pipeline: str, days: list[str], timeout: float) -> None:
    """Poll until the days are ingested and validated (or their runs have failed), printing progress."""
    config = load_pipeline(pipeline)
    deadline = time.monotonic() + timeout
    while True:
        ingest, validate = client.dag_runs(f"ingest_{pipeline}"), client.dag_runs(f"validate_{pipeline}")
        raw = set(storage.list_partitions("raw", pipeline)) & set(days)
        validated = set(storage.list_partitions("validated", pipeline)) & set(days)
        _progress(f"ingest runs {dict(states(ingest))} · raw days {len(raw)}/{len(days)} · validate runs "
                  f"{dict(states(validate))} · validated days {len(validated)}/{len(days)}")
        settled = (all(r["state"] in FINISHED for r in ingest + validate) and raw
                   and not ingestion.pending_validation(config))
        if settled:
            return
        _check(client, deadline, timeout)
        time.sleep(10)


def wait_for_runs(client: AirflowClient, dag_ids: list[str], minimum: dict[str, int], timeout: float) -> None:
    """Poll until every run of ``dag_ids`` has finished and each has at least ``minimum`` runs."""
    deadline = time.monotonic() + timeout
    while True:
        runs = {dag_id: client.dag_runs(dag_id) for dag_id in dag_ids}
        _progress(" · ".join(f"{d} {dict(states(r))}" for d, r in runs.items()))
        if all(len(runs[d]) >= minimum.get(d, 0) and all(r["state"] in FINISHED for r in runs[d]) for d in dag_ids):
            return
        _check(client, deadline, timeout)
        time.sleep(10)


def train_and_gate(client: AirflowClient, pipeline: str, conf: dict, timeout: float) -> None:
    """Trigger ``train_<p>``; evaluate and register follow through the candidate/evaluated Assets."""
    stages = [f"{stage}_{pipeline}" for stage in ("train", "evaluate", "register")]
    done = len(client.dag_runs(stages[-1]))
    client.trigger(stages[0], conf)
    print(f"triggered {stages[0]} with {conf}; {stages[1]} and {stages[2]} follow on the Assets", flush=True)
    wait_for_runs(client, stages, {stages[-1]: done + 1}, timeout)


def land_and_ingest(client: AirflowClient, config, days: list[str], timeout: float) -> None:
    """Drop the days' files and backfill them with one ingest run (From / To, as in the trigger form)."""
    for ds in days:
        nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
    # chunk_days 1: one task per day, as daily runs do: the demo's story (monitor's alert of one day) stays
    client.trigger(f"ingest_{config.name}", conf={"from_date": days[0], "to_date": days[-1], "chunk_days": 1})
    print(f"landed {days[0]}..{days[-1]}; ingest_{config.name} triggered for that range (one mapped ingest per "
          "day); validate, score and monitor follow on the Assets", flush=True)
    wait_for_pipeline(client, config.name, days, timeout)


def wait_for_retraining(client: AirflowClient, pipeline: str, timeout: float) -> None:
    """Wait for a drift-triggered training whose version the gate has judged and register has handled."""
    from mlcycle.core import registry

    stages = [f"{s}_{pipeline}" for s in ("validate", "score", "monitor", "train", "evaluate", "register")]
    deadline = time.monotonic() + timeout
    while True:
        runs = {d: client.dag_runs(d) for d in stages}
        _progress(" · ".join(f"{d.split('_')[0]} {dict(states(r))}" for d, r in runs.items()))
        retrained = [r for r in runs[stages[3]] if r["run_type"] == "asset_triggered" and r["state"] == "success"]
        settled = all(r["state"] in FINISHED for rs in runs.values() for r in rs)
        pending = registry.alias_version(pipeline, registry.CHALLENGER)
        if retrained and settled and pending is None and _alert_versions(pipeline):
            return
        _check(client, deadline, timeout)
        time.sleep(10)


BASELINE = "dummy_classifier"  # the base rate for every row: a candidate the gate must reject


def last_day_and_worse_candidate(client: AirflowClient, config, july: list[str], timeout: float) -> None:
    """The last July day lands and is scored by the champion while the baseline, trained on the July window
    the champion was trained on, goes through the gate: both at once."""
    print(f"\n== 3. {july[-1]} lands and is scored by the champion the gate chose; meanwhile a deliberately worse "
          f"candidate ({BASELINE}: the base rate for every flight) on the same window goes through the gate",
          flush=True)
    stages = [f"{stage}_{config.name}" for stage in ("train", "evaluate", "register")]
    done = len(client.dag_runs(stages[-1]))
    client.trigger(stages[0], {"estimator": BASELINE, "window_end": july[-2],
                               "reason": "a deliberately worse candidate: the gate must reject it"})
    land_and_ingest(client, config, july[-1:], timeout)
    wait_for_runs(client, [f"score_{config.name}", f"monitor_{config.name}", *stages], {stages[-1]: done + 1},
                  timeout)


def _alert_versions(pipeline: str) -> list[int]:
    from mlcycle.core import registry

    return [int(v.version) for v in registry.client().search_model_versions(f"name='{pipeline}'")
            if json.loads(v.tags.get("cause", "{}")).get("type") == "asset"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("``", "'"))
    parser.add_argument("--pipeline", default="flights")
    parser.add_argument("--january", type=int, default=7, help="days of January to train the first champion on")
    parser.add_argument("--july", type=int, default=5, help="days of July to replay (the drift)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for each act")
    args = parser.parse_args(argv)
    rt = runtime.Runtime.from_env()
    os.environ.update(rt.client_env())  # with MLCYCLE_MLFLOW_AUTH=1: the pipeline's service account
    started = time.monotonic()
    try:
        runtime.start(rt)
    except runtime.RuntimeErrorWithFix as exc:
        raise SystemExit(f"error: {exc}") from exc
    config = load_pipeline(args.pipeline)
    client = AirflowClient(rt.airflow_url, runtime.USERNAME, rt.password())
    client.wait_for_dags([f"{stage}_{config.name}" for stage in config.stages])
    january = landing.days("2013-01-01", args.january)
    july = landing.days("2013-07-01", args.july + 1)

    acts = [("start the stack", time.monotonic() - started)]
    mark = time.monotonic()
    print("\n== 1. January: ingest, validate, and the first champion", flush=True)
    land_and_ingest(client, config, january, args.timeout)
    train_and_gate(client, config.name, {"reason": f"first model on {january[0]}..{january[-1]}"}, args.timeout)
    from mlcycle.core import registry

    if registry.alias_version(config.name, registry.CHAMPION) is None:
        print(terminal_safe("\n".join(model_summary(config.name))))
        raise SystemExit("the first model did not pass the Evidently gate, so there is no champion to monitor "
                         "against; see the reasons above and the thresholds in include/pipelines/flights.yaml")

    acts.append(("1. January: ingest, validate, first champion", time.monotonic() - mark))
    mark = time.monotonic()
    print("\n== 2. July: a new season lands; monitor_flights compares it with the champion's January data",
          flush=True)
    land_and_ingest(client, config, july[:-1], args.timeout)
    print("waiting for drift.flights -> train_flights (Asset) -> evaluate -> register ...", flush=True)
    wait_for_retraining(client, config.name, args.timeout)

    acts.append(("2. July: drift, retraining, gate", time.monotonic() - mark))
    mark = time.monotonic()
    last_day_and_worse_candidate(client, config, july, args.timeout)
    acts.append((f"3. {july[-1]} scored; a worse candidate rejected", time.monotonic() - mark))
    print(summary(rt, client, config.name, january + july))
    print("\n" + "\n".join(f"  {name:<46} {seconds:6.0f} s" for name, seconds in acts))
    print(f"The demo took {(time.monotonic() - started) / 60:.1f} min.")


if __name__ == "__main__":
    main()
