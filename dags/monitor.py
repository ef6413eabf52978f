"""Airflow DAGs ``monitor_<pipeline>``, one per config with a training section (built by the factory)."""

from mlcycle.orchestration.factory import build, monitor_dag

globals().update(build(monitor_dag))
