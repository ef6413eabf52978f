"""Airflow DAGs ``register_<pipeline>``, one per config with a training section (built by mlcycle.dag_factory)."""

from mlcycle.dag_factory import build, register_dag

globals().update(build(register_dag))
