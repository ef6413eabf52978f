"""Airflow DAGs ``ingest_<pipeline>``, one per config in include/pipelines (built by mlcycle.dag_factory)."""

from mlcycle.dag_factory import build, ingest_dag

globals().update(build(ingest_dag))
