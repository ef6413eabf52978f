"""Airflow DAGs ``validate_<pipeline>``, one per config in include/pipelines (built by mlcycle.dag_factory)."""

from mlcycle.dag_factory import build, validate_dag

globals().update(build(validate_dag))
