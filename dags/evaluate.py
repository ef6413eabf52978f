"""Airflow DAGs ``evaluate_<pipeline>``, one per config with a training section (built by the factory)."""

from mlcycle.orchestration.factory import build, evaluate_dag

globals().update(build(evaluate_dag))
