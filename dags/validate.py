"""Airflow DAGs ``validate_<pipeline>``, one per config in include/pipelines (built by the factory)."""

from mlcycle.orchestration.factory import build, validate_dag

globals().update(build(validate_dag))
