"""Timing shims, in a worker process only: the product's parts by step, every MLflow call by category,
and the parts of ``mlflow.sklearn.log_model`` (MLflow is imported inside: this runs in a worker)."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any

from bench._harness.timing import CallTimer, TaskTimer
from bench.train_register.constants import (
    LOG_MODEL_PARTS,
    MLFLOW_CLIENT,
    MLFLOW_FLUENT,
    MLFLOW_OTHER,
    PARTS,
    REQUIREMENTS_CHECK,
    SAVE_MODEL,
    SKOPS_SCAN,
    STEPS,
)


class LogModelTimer:
    """The parts of log_model; the requirements check is shown inside save_model, as a part of it."""

    def __init__(self) -> None:
        from mlflow import MlflowClient

        self.inner, self.check = CallTimer(), CallTimer()
        for module, function, label in LOG_MODEL_PARTS:
            owner = MlflowClient if module == "MlflowClient" else importlib.import_module(module)
            self.inner.wrap_if_present(owner, function, label)
        module, function, label = REQUIREMENTS_CHECK
        self.check.wrap_if_present(importlib.import_module(module), function, label)

    def reset(self) -> None:
        self.inner.seconds.clear()
        self.check.seconds.clear()

    def parts(self) -> dict[str, float]:
        out = dict(self.inner.seconds)
        check = self.check.seconds.get(REQUIREMENTS_CHECK[2])
        if check is not None and SAVE_MODEL in out:
            out = {k: v for k, v in out.items() if k != SAVE_MODEL}
            out = {SAVE_MODEL: self.inner.seconds[SAVE_MODEL], REQUIREMENTS_CHECK[2]: check, **out}
        return out


@dataclass
class Shims:
    steps: TaskTimer         # modelling's steps, wherever they are called from
    parts: CallTimer         # the product's parts, keyed by (step, part)
    calls: CallTimer         # every MLflow call, by category
    log_model: LogModelTimer

    def figures(self) -> dict[str, Any]:
        """What the result event carries: seconds per step, parts by step, MLflow calls and log_model's parts."""
        by_step: dict[str, dict[str, float]] = {}
        for (step, label), seconds in self.parts.seconds.items():
            by_step.setdefault(step, {})[label] = seconds
        return {"steps": self.steps.seconds, "parts": by_step, "mlflow": self.calls.figures(),
                "mlflow_total": sum(self.calls.seconds.values()), "log_model_parts": self.log_model.parts()}


def instrument() -> Shims:
    """Wrap modelling's steps, the product's parts, every MLflow call and log_model's parts."""
    from mlflow import MlflowClient

    from mlcycle.core import tracking
    from mlcycle.stages import modelling

    steps = TaskTimer()
    for step in STEPS:  # Airflow's operators call modelling.<step> at run time: this times the task work
        steps.wrap(modelling, step)
    parts = CallTimer(key=lambda category: (steps.current, category))
    for module, function, label in PARTS:
        parts.wrap(importlib.import_module(f"mlcycle.core.{module}"), function, label)
    calls = CallTimer()
    for module, function, category in MLFLOW_FLUENT:
        calls.wrap(importlib.import_module(module), function, category)
    for name, value in list(vars(MlflowClient).items()):
        if inspect.isfunction(value) and not name.startswith("_"):
            calls.wrap(MlflowClient, name, MLFLOW_CLIENT.get(name, MLFLOW_OTHER))
    calls.wrap(tracking, "_own_model_types", SKOPS_SCAN)
    return Shims(steps, parts, calls, LogModelTimer())
