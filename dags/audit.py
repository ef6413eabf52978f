"""Airflow DAGs ``audit_<pipeline>``, one per config with a training section (built by the factory)."""

from mlcycle.orchestration.factory import audit_dag, build

globals().update(build(audit_dag))
