"""Builds every stage's DAG for every pipeline config. The files in ``dags/`` only call this.

Parse-time work is reading the YAML configs: no database query, no connection look-up and no
heavy import (pandas, GX, DVC ... load inside the tasks).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param

from mlcycle import settings
from mlcycle.assets import zone_asset
from mlcycle.config import PipelineConfig, load_pipelines
from mlcycle.operators import IngestOperator, LandingFileSensor, ResolvePartitionsOperator, ValidateOperator


def _utc(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) if day else None


def _common(config: PipelineConfig, stage: str, doc: str) -> dict:
    return {
        "dag_id": f"{stage}_{config.name}",
        "description": f"{stage} · {config.description}",
        "doc_md": f"### {stage}_{config.name}\n{doc}\n\nPipeline config: `include/pipelines/{config.name}.yaml`.",
        "tags": sorted({*config.tags, stage, "mlcycle"}),
        "default_args": {"owner": config.owner, "retries": config.retries,
                         "retry_delay": dt.timedelta(minutes=1)},
        "start_date": _utc(config.schedule.start_date),
        "catchup": False,
    }


def ingest_dag(config: PipelineConfig) -> DAG:
    """``ingest_<p>``: wait for the day's file, type it, write ``raw/<p>/ds=<ds>``, version it with DVC."""
    landing = f"{settings.landing_uri()}/{config.landing.pattern.replace('{ds}', '{{ ds }}')}"
    kwargs = _common(config, "ingest", "Wait for the day's file, type it, write `raw/<p>/ds=<ds>`, version it "
                     f"with DVC.\n\nWaits for `{landing}`. Backfill a range with "
                     f"`airflow backfill create --dag-id ingest_{config.name} --from-date ... --to-date ...`.")
    kwargs.update(catchup=config.schedule.catchup, end_date=_utc(config.schedule.end_date), max_active_runs=4)
    with DAG(schedule=config.schedule.cron, **kwargs) as dag:
        wait = LandingFileSensor(task_id="wait_for_file", uri=landing, poke_interval=config.landing.poke_seconds,
                                 timeout=config.landing.timeout_minutes * 60)
        wait >> IngestOperator(task_id="ingest", pipeline=config.name)
    return dag


def validate_dag(config: PipelineConfig) -> DAG:
    """``validate_<p>``: GX suite on each new raw partition; failing rows to quarantine, the rest published."""
    kwargs = _common(config, "validate", "GX suite on each new raw partition; failing rows to quarantine, the rest "
                     "published.\n\nRuns when `raw." + config.name + "` gets new partitions, or by hand for one date.")
    params = {"ds": Param(None, type=["null", "string"], format="date", title="Partition date",
                          description="Validate this date by hand (YYYY-MM-DD). Empty: the dates of the "
                                      "triggering raw Asset events.")}
    with DAG(schedule=[zone_asset("raw", config.name)], params=params, max_active_runs=1, **kwargs) as dag:
        dates = ResolvePartitionsOperator(task_id="partitions", pipeline=config.name)
        ValidateOperator.partial(task_id="validate", pipeline=config.name).expand(ds=dates.output)
    return dag


def build(stage_factory) -> dict[str, DAG]:
    """One DAG per pipeline config for the given stage factory, keyed by dag_id."""
    return {dag.dag_id: dag for dag in map(stage_factory, load_pipelines())}
