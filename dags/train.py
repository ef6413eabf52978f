"""Airflow DAGs ``train_<pipeline>``, one per config with a training section (built by the factory)."""

from mlcycle.orchestration.factory import build, train_dag

globals().update(build(train_dag))
