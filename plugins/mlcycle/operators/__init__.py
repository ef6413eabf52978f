"""Thin operators: ``__init__`` only assigns, ``execute`` delegates to the domain modules."""

from mlcycle.operators.ingest import IngestOperator
from mlcycle.operators.landing import LandingFileSensor
from mlcycle.operators.model import EvaluateOperator, RegisterOperator, RollbackOperator, TrainOperator
from mlcycle.operators.validate import ResolvePartitionsOperator, ValidateOperator

__all__ = ["EvaluateOperator", "IngestOperator", "LandingFileSensor", "RegisterOperator", "ResolvePartitionsOperator",
           "RollbackOperator", "TrainOperator", "ValidateOperator"]
