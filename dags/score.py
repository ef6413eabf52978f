"""Airflow DAGs ``score_<pipeline>``, one per config with a training section (built by the factory)."""

from mlcycle.orchestration.factory import build, score_dag

globals().update(build(score_dag))
