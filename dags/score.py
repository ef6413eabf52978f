"""Airflow DAGs ``score_<pipeline>``, one per config with a training section (built by mlcycle.dag_factory)."""

from mlcycle.dag_factory import build, score_dag

globals().update(build(score_dag))
