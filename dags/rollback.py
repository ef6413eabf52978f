"""Airflow DAGs ``rollback_<pipeline>``, one per config with a training section (built by mlcycle.dag_factory)."""

from mlcycle.dag_factory import build, rollback_dag

globals().update(build(rollback_dag))
