"""Airflow DAGs ``register_<pipeline>``, one per config with a training section (built by the factory)."""

from mlcycle.orchestration.factory import build, register_dag

globals().update(build(register_dag))
