"""Airflow loads plugins from top-level modules of plugins/: this one exposes mlcycle's plugin."""

from mlcycle.orchestration.plugin import MlcyclePlugin

__all__ = ["MlcyclePlugin"]
