"""Thin operators: ``__init__`` only assigns, ``execute`` delegates to the domain modules."""

from mlcycle.orchestration.operators.ingest import IngestDatesOperator, IngestOperator
from mlcycle.orchestration.operators.landing import LandingFileSensor
from mlcycle.orchestration.operators.model import (
    AuditOperator,
    EvaluateOperator,
    RegisterOperator,
    RollbackOperator,
    TrainOperator,
)
from mlcycle.orchestration.operators.monitor import DriftAlertOperator, MonitorOperator, ScoreOperator
from mlcycle.orchestration.operators.validate import ResolvePartitionsOperator, ValidateOperator

__all__ = ["AuditOperator", "DriftAlertOperator", "EvaluateOperator", "IngestDatesOperator", "IngestOperator",
           "LandingFileSensor", "MonitorOperator", "RegisterOperator", "ResolvePartitionsOperator", "RollbackOperator",
           "ScoreOperator", "TrainOperator", "ValidateOperator"]
