"""Airflow DAGs ``train_<pipeline>``, one per config with a training section (built by mlcycle.dag_factory)."""

from mlcycle.dag_factory import build, train_dag

globals().update(build(train_dag))
