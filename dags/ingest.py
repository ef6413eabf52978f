"""Airflow DAGs ``ingest_<pipeline>``, one per config in include/pipelines (built by the factory)."""

from mlcycle.orchestration.factory import build, ingest_dag

globals().update(build(ingest_dag))
