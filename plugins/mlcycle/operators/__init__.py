"""Thin operators: ``__init__`` only assigns, ``execute`` delegates to the domain modules."""

from mlcycle.operators.ingest import IngestDatesOperator, IngestOperator
from mlcycle.operators.landing import LandingFileSensor
from mlcycle.operators.model import EvaluateOperator, RegisterOperator, RollbackOperator, TrainOperator
from mlcycle.operators.monitor import DriftAlertOperator, MonitorOperator, ScoreOperator
from mlcycle.operators.validate import ResolvePartitionsOperator, ValidateOperator

__all__ = ["DriftAlertOperator", "EvaluateOperator", "IngestDatesOperator", "IngestOperator", "LandingFileSensor",
           "MonitorOperator", "RegisterOperator", "ResolvePartitionsOperator", "RollbackOperator", "ScoreOperator",
           "TrainOperator", "ValidateOperator"]
