"""The demo's closing summary: runs, rows and quarantine per day, drift, model versions with their gate
verdicts, predictions, and where to look next. Data is printed through :func:`terminal_safe`."""

from __future__ import annotations

import json
import re
from collections import Counter

from mlcycle import settings
from mlcycle.core import lake, quality, storage
from mlcycle.core.config import load_pipeline
from mlcycle.core.ingest import REASON_COLUMN
from mlcycle.tools import runtime
from mlcycle.tools.airflow_client import AirflowClient

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline: no escape sequence


def terminal_safe(text: str) -> str:
    """``text`` without control characters, for printing data to a terminal."""
    return _CONTROL.sub("", text)


def states(runs: list[dict]) -> Counter:
    return Counter(run["state"] for run in runs)


def _cause_line(text: str) -> str:
    cause = json.loads(text)
    if cause.get("type") != "asset":
        return f"{cause.get('type', '?')} {cause.get('reason', '')}".strip()
    return "; ".join(f"{e.get('source', 'alert')} drift alert on {e.get('ds', '?')} "
                     f"({', '.join(e.get('drifted_columns', []))})" for e in cause.get("events", []))


def model_summary(pipeline: str) -> list[str]:
    from mlcycle.core import registry

    versions = sorted(registry.client().search_model_versions(f"name='{pipeline}'"), key=lambda v: int(v.version))
    lines = [f"\nMLflow model '{pipeline}': {'version':>7}  {'aliases':22} gate     reasons / lineage"]
    for v in versions:
        tags = v.tags
        detail = (tags.get("gate.reasons", "") if tags.get("gate") == "failed"
                  else f"data md5 {tags.get('data.md5', '?')[:12]}… window {tags.get('data.window', '?')} "
                       f"commit {tags.get('code.commit', '?')[:10]}")
        aliases = registry.version_info(pipeline, int(v.version))["aliases"]  # search results carry none
        lines.append(f"{'':22}{v.version:>7}  {','.join(aliases) or '-':22} {tags.get('gate', '?'):8} {detail}")
        lines.append(f"{'':31}cause: {_cause_line(tags.get('cause', '{}'))}")
        intervals = ", ".join(f"{k.removeprefix('gate.interval.')} {val}" for k, val in sorted(tags.items())
                              if k.startswith("gate.interval."))
        lines.append(f"{'':31}verdict: {tags.get('gate.verdict', '?')}; challenger − champion (positive: better): "
                     f"{intervals or 'no champion to compare with'}; {tags.get('estimator', '?')} on "
                     f"{tags.get('data.window', '?')}")
    lines += [f"promotion history: {len(registry.history(pipeline))} record(s), "
              f"MLflow experiment '{pipeline}-promotions'"]
    return lines


def _reasons(pipeline: str, ds: str) -> Counter:
    counts: Counter = Counter()
    for stage in ("ingest", "validate"):
        uri = lake.quarantine(pipeline, ds, stage)
        try:
            frame = storage.read_partition(uri)
        except storage.PartitionNotFound:
            continue
        for reasons in frame[REASON_COLUMN]:
            counts.update(reasons.split("; "))
    return counts


def serving_example(rt: runtime.Runtime, config) -> list[str]:
    """A curl call of the serving app with the first row of the newest validated day."""
    days = storage.list_partitions("validated", config.name)
    if rt.serving_port is None or not config.training or not days:
        return []
    features = config.training.numeric_features + config.training.categorical_features
    row = storage.read_partition(lake.partition("validated", config.name, days[-1]))[features].head(1)
    return ["", "Online predictions of the champion (swapped in place on promotion and rollback; see README):",
            f"  curl -s {rt.serving_url}/predict/{config.name} -H 'X-API-Key: {rt.serving_key()}' "
            f"-H 'Content-Type: application/json' -d '{row.to_json(orient='records')}'"]


def summary(rt: runtime.Runtime, client: AirflowClient, pipeline: str, days: list[str]) -> str:
    config = load_pipeline(pipeline)
    lines = ["", "=" * 100, f"Pipeline '{pipeline}': {days[0]} .. {days[-1]}", "=" * 100]
    for stage in config.stages:
        lines.append(f"{stage + '_' + pipeline:24} runs: {dict(states(client.dag_runs(f'{stage}_{pipeline}')))}")
    lines.append(f"\n{'day':12} {'raw rows':>9} {'validated':>10} {'quarantined':>12}  reasons")
    for ds in days:
        def rows(zone: str, ds: str = ds) -> str:
            try:
                return str(storage.read_manifest(lake.partition(zone, pipeline, ds))["rows"])
            except storage.PartitionNotFound:
                return "-"
        reasons = _reasons(pipeline, ds)
        lines.append(f"{ds:12} {rows('raw'):>9} {rows('validated'):>10} {sum(reasons.values()):>12}  "
                     + ", ".join(f"{n}× {r}" for r, n in reasons.most_common(2)))
    if config.training:
        lines += (drift_summary(client, pipeline) + model_summary(pipeline) + prediction_summary(pipeline)
                  + serving_example(rt, config))
    lines += [
        "",
        f"Lake (raw/validated/quarantine) {settings.lake_uri()}",
        f"Quarantined rows, with reasons  .../quarantine/{pipeline}/ds=<day>/{{ingest,validate}}/data.parquet "
        f"(column {REASON_COLUMN})",
        f"Overview (charts, champion)     {rt.airflow_url}/plugin/mlcycle-overview/mlcycle/pipelines/{pipeline} "
        "(Airflow menu: Pipelines)",
        f"Drift and gate reports          {rt.airflow_url}/plugin/mlcycle-reports (Airflow menu: Drift reports)",
        f"GX Data Docs                    {rt.airflow_url}/plugin/mlcycle-data-quality (files: "
        f"{quality.data_docs_index()})",
        runtime.banner(rt),
        "Services keep running: `make stop` stops them, `make clean` resets all state.",
    ]
    return terminal_safe("\n".join(lines))


def drift_summary(client: AirflowClient, pipeline: str) -> list[str]:
    """The drift events Airflow recorded and the daily figures in MLflow."""
    from mlcycle.core import registry

    uri = lake.asset_uri("drift", pipeline)
    events = [e for e in client.get("/assets/events", limit=1000)["asset_events"] if e["uri"] == uri]
    lines = [f"\nDrift events on drift.{pipeline}: {len(events)}"]
    for event in events:
        extra = event["extra"]
        lines.append(f"  {event['timestamp'][:19]}  from {extra.get('source', '?'):8} day {extra.get('ds', '-')}  "
                     f"share {extra.get('share', '-')}  columns {', '.join(extra.get('drifted_columns', []))}")
    experiment = registry.client().get_experiment_by_name(f"{pipeline}-monitoring")
    if experiment:
        runs = registry.client().search_runs([experiment.experiment_id], "tags.ds != ''", max_results=1000,
                                             order_by=["tags.ds ASC"])
        lines.append(f"\nDaily monitoring (MLflow experiment '{pipeline}-monitoring'):")
        lines.append(f"  {'day':12} {'champion':>8} {'drift':>6} {'share':>6} {'roc_auc':>8}  drifted columns")
        for run in runs:
            m, t = run.data.metrics, run.data.tags
            lines.append(f"  {t['ds']:12} {'v' + t.get('champion', '?'):>8} {t.get('drift', '?'):>6} "
                         f"{m.get('drift_share', 0):6.2f} {m.get('quality_roc_auc', float('nan')):8.3f}  "
                         f"{t.get('drifted', '')}")
    return lines


def prediction_summary(pipeline: str) -> list[str]:
    lines = [f"\nPredictions (lake predictions/{pipeline}/):"]
    for ds in storage.list_partitions("predictions", pipeline):
        manifest = storage.read_manifest(lake.partition("predictions", pipeline, ds))
        lines.append(f"  {ds}  {manifest['rows']:>5} rows by model version {manifest['model_version']}")
    return lines
