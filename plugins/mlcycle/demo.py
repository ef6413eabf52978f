"""``make demo``: start the embedded stack, land real 2013 flights, let the scheduler run the pipeline.

Steps: start Airflow + MLflow -> drop one CSV per day into the landing zone -> ask the scheduler
for a backfill of ``ingest_flights`` -> ``validate_flights`` runs on the ``raw.flights`` Asset ->
print what happened and where to look. The services stay up until ``make stop``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

from mlcycle import quality, runtime, settings, steps, storage
from mlcycle.airflow_client import FINISHED, AirflowClient
from mlcycle.config import load_pipeline
from mlcycle.ingest import REASON_COLUMN
from mlcycle.sources import nycflights


def _states(runs: list[dict]) -> Counter:
    return Counter(run["state"] for run in runs)


def _check(client: AirflowClient, deadline: float, timeout: float) -> None:
    if not client.scheduler_healthy():
        raise SystemExit("the Airflow scheduler is not running any more; see .state/logs/airflow.log, "
                         "then `make stop && make demo`")
    if time.monotonic() > deadline:
        raise SystemExit(f"not finished within {timeout:.0f}s; see the Airflow UI")


def wait_for_pipeline(client: AirflowClient, pipeline: str, days: list[str], timeout: float) -> None:
    """Poll until every day is ingested and validated (or has failed), printing progress."""
    config = load_pipeline(pipeline)
    deadline = time.monotonic() + timeout
    wanted = {f"{d}T00:00:00Z" for d in days}
    while True:
        ingest = [r for r in client.dag_runs(f"ingest_{pipeline}") if r["logical_date"] in wanted]
        validate = client.dag_runs(f"validate_{pipeline}")
        done = sum(r["state"] in FINISHED for r in ingest)
        validated = set(storage.list_partitions("validated", pipeline))
        print(f"  ingest runs {dict(_states(ingest))} ({done}/{len(days)} finished) · validate runs "
              f"{dict(_states(validate))} · validated days {len(validated & set(days))}/{len(days)}", flush=True)
        settled = (done == len(days) and all(r["state"] in FINISHED for r in validate)
                   and not steps.pending_validation(config))
        if settled:
            return
        _check(client, deadline, timeout)
        time.sleep(10)


def wait_for_runs(client: AirflowClient, dag_ids: list[str], minimum: dict[str, int], timeout: float) -> None:
    """Poll until every run of ``dag_ids`` has finished and each has at least ``minimum`` runs."""
    deadline = time.monotonic() + timeout
    while True:
        runs = {dag_id: client.dag_runs(dag_id) for dag_id in dag_ids}
        print("  " + " · ".join(f"{d} {dict(_states(r))}" for d, r in runs.items()), flush=True)
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


def model_summary(pipeline: str) -> list[str]:
    from mlcycle import registry

    versions = sorted(registry.client().search_model_versions(f"name='{pipeline}'"), key=lambda v: int(v.version))
    lines = [f"\nMLflow model '{pipeline}': {'version':>7}  {'aliases':22} gate     reasons / lineage"]
    for v in versions:
        tags = v.tags
        detail = (tags.get("gate.reasons", "") if tags.get("gate") == "failed"
                  else f"data md5 {tags.get('data.md5', '?')[:12]}… window {tags.get('data.window', '?')} "
                       f"commit {tags.get('code.commit', '?')[:10]}")
        aliases = registry.version_info(pipeline, int(v.version))["aliases"]  # search results carry none
        lines.append(f"{'':22}{v.version:>7}  {','.join(aliases) or '-':22} {tags.get('gate', '?'):8} {detail}")
    lines += [f"promotion history: {len(registry.history(pipeline))} record(s), "
              f"MLflow experiment '{pipeline}-promotions'"]
    return lines


def _reasons(pipeline: str, ds: str) -> Counter:
    counts: Counter = Counter()
    for stage in ("ingest", "validate"):
        uri = f"{storage.partition_uri('quarantine', pipeline, ds)}/{stage}"
        try:
            frame = storage.read_partition(uri)
        except storage.PartitionNotFound:
            continue
        for reasons in frame[REASON_COLUMN]:
            counts.update(reasons.split("; "))
    return counts


def summary(rt: runtime.Runtime, client: AirflowClient, pipeline: str, days: list[str]) -> str:
    config = load_pipeline(pipeline)
    lines = ["", "=" * 100, f"Pipeline '{pipeline}': {days[0]} .. {days[-1]}", "=" * 100]
    for stage in config.stages:
        lines.append(f"{stage + '_' + pipeline:24} runs: {dict(_states(client.dag_runs(f'{stage}_{pipeline}')))}")
    lines.append(f"\n{'day':12} {'raw rows':>9} {'validated':>10} {'quarantined':>12}  reasons")
    for ds in days:
        def rows(zone: str, ds: str = ds) -> str:
            try:
                return str(storage.read_manifest(storage.partition_uri(zone, pipeline, ds))["rows"])
            except storage.PartitionNotFound:
                return "-"
        reasons = _reasons(pipeline, ds)
        lines.append(f"{ds:12} {rows('raw'):>9} {rows('validated'):>10} {sum(reasons.values()):>12}  "
                     + ", ".join(f"{n}× {r}" for r, n in reasons.most_common(2)))
    if config.training:
        lines += model_summary(pipeline)
    lines += [
        "",
        f"Lake (raw/validated/quarantine) {settings.lake_uri()}",
        f"Quarantined rows, with reasons  .../quarantine/{pipeline}/ds=<day>/{{ingest,validate}}/data.parquet "
        f"(column {REASON_COLUMN})",
        f"GX Data Docs                    file://{quality.data_docs_index()}",
        runtime.banner(rt),
        "Services keep running: `make stop` stops them, `make clean` resets all state.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="flights")
    parser.add_argument("--start", default="2013-01-01", help="first day to land (YYYY-MM-DD, in 2013)")
    parser.add_argument("--days", type=int, default=14, help="how many days to land and process")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the pipeline")
    args = parser.parse_args(argv)
    rt = runtime.Runtime.from_env()
    os.environ["MLFLOW_TRACKING_URI"] = rt.mlflow_url
    try:
        runtime.start(rt)
    except runtime.RuntimeErrorWithFix as exc:
        raise SystemExit(f"error: {exc}") from exc
    config = load_pipeline(args.pipeline)
    days = nycflights.days(args.start, args.days)
    print(f"landing {len(days)} days of 2013 flights ...", flush=True)
    for ds in days:
        nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
    client = AirflowClient(rt.airflow_url, runtime.USERNAME, rt.password())
    client.wait_for_dags([f"{stage}_{config.name}" for stage in config.stages])
    created = client.run_days(f"ingest_{config.name}", days)
    print(f"{len(created)} runs of ingest_{config.name} created (one per day); the scheduler runs them, "
          f"validate_{config.name} follows on the raw.{config.name} Asset", flush=True)
    wait_for_pipeline(client, config.name, days, args.timeout)
    if config.training:
        print("training the first champion on the validated window ...", flush=True)
        train_and_gate(client, config.name, {"reason": f"first model on {days[0]}..{days[-1]}"}, args.timeout)
        print("proposing a challenger trained on only the last 5 days; the Evidently gate decides ...", flush=True)
        train_and_gate(client, config.name, {"window_days": 5, "estimator": "hist_gradient_boosting_classifier",
                                             "reason": "narrow-window challenger"}, args.timeout)
    print(summary(rt, client, config.name, days))


if __name__ == "__main__":
    main()
