"""Airflow DAGs ``rollback_<pipeline>``, one per config with a training section (built by the factory)."""

from mlcycle.orchestration.factory import build, rollback_dag

globals().update(build(rollback_dag))
