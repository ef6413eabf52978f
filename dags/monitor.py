"""Airflow DAGs ``monitor_<pipeline>``, one per config with a training section (built by mlcycle.dag_factory)."""

from mlcycle.dag_factory import build, monitor_dag

globals().update(build(monitor_dag))
