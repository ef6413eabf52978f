"""Airflow DAGs ``evaluate_<pipeline>``, one per config with a training section (built by mlcycle.dag_factory)."""

from mlcycle.dag_factory import build, evaluate_dag

globals().update(build(evaluate_dag))
