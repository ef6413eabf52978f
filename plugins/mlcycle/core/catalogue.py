"""The catalogue of metrics and estimators: one table each, read by config validation, training, the
gate, monitoring, the scaffold and hand-written DAGs.

Adding a metric is one row in :data:`METRICS`: its task, direction, the scikit-learn scorer and the
Evidently metric that tests it in the gate. Adding an estimator is one row in :data:`ESTIMATORS`.
Nothing here imports scikit-learn or Evidently: classes are named and imported when used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Literal

TaskType = Literal["classification", "regression"]
TASKS: tuple[TaskType, ...] = ("classification", "regression")


@dataclass(frozen=True)
class Metric:
    """One metric: where it applies, which way is better, how to compute and how Evidently tests it."""

    task: TaskType
    higher_is_better: bool
    scorer: str  # a function of sklearn.metrics
    uses_probability: bool = False  # scored on the positive-class probability, not the predicted label
    scorer_kwargs: dict[str, Any] = field(default_factory=dict)
    evidently: str = ""  # a class of evidently.metrics
    evidently_scale: float = 1  # Evidently's unit per config unit (MAPE: percent)
    evidently_tests_on_mean: bool = False  # Evidently reports a mean and its spread; tests go on the mean
    paired: str = ""  # the statistic core.comparison resamples for the paired comparison ("": not comparable)

    def score(self, y, predicted, probability=None) -> float:
        from sklearn import metrics

        scored = probability if self.uses_probability else predicted
        return float(getattr(metrics, self.scorer)(y, scored, **self.scorer_kwargs))

    def evidently_metric(self, tests: list | None = None):
        """The Evidently metric, with ``tests`` on it (on its mean where Evidently reports one)."""
        from evidently import metrics

        cls = getattr(metrics, self.evidently)
        if tests is None:
            return cls()
        return cls(**{"mean_tests" if self.evidently_tests_on_mean else "tests": tests})


METRICS: dict[str, Metric] = {
    "roc_auc": Metric("classification", True, "roc_auc_score", uses_probability=True, evidently="RocAuc",
                      paired="rank_auc"),
    "accuracy": Metric("classification", True, "accuracy_score", evidently="Accuracy", paired="accuracy"),
    "f1": Metric("classification", True, "f1_score", scorer_kwargs={"zero_division": 0}, evidently="F1Score",
                 paired="f1"),
    "precision": Metric("classification", True, "precision_score", scorer_kwargs={"zero_division": 0},
                        evidently="Precision", paired="precision"),
    "recall": Metric("classification", True, "recall_score", scorer_kwargs={"zero_division": 0}, evidently="Recall",
                     paired="recall"),
    "log_loss": Metric("classification", False, "log_loss", uses_probability=True, evidently="LogLoss",
                       paired="log_loss"),
    "mae": Metric("regression", False, "mean_absolute_error", evidently="MAE", evidently_tests_on_mean=True,
                  paired="mae"),
    "rmse": Metric("regression", False, "root_mean_squared_error", evidently="RMSE", paired="rmse"),
    "r2": Metric("regression", True, "r2_score", evidently="R2Score", paired="r2"),
    "mape": Metric("regression", False, "mean_absolute_percentage_error", evidently="MAPE", evidently_scale=100,
                   evidently_tests_on_mean=True, paired="mape"),
}


@dataclass(frozen=True)
class Estimator:
    """One scikit-learn estimator a pipeline may train, and the defaults it always gets."""

    task: TaskType
    cls: str  # "module.Class" under sklearn
    defaults: dict[str, Any] = field(default_factory=dict)

    def load(self) -> type:
        module, _, name = self.cls.rpartition(".")
        return getattr(importlib.import_module(f"sklearn.{module}"), name)


ESTIMATORS: dict[str, Estimator] = {
    "logistic_regression": Estimator("classification", "linear_model.LogisticRegression", {"max_iter": 1000}),
    "random_forest_classifier": Estimator("classification", "ensemble.RandomForestClassifier"),
    "hist_gradient_boosting_classifier": Estimator("classification", "ensemble.HistGradientBoostingClassifier"),
    # the base rate for every row, whatever the features: a floor any real model must beat (roc_auc 0.5)
    "dummy_classifier": Estimator("classification", "dummy.DummyClassifier", {"strategy": "prior"}),
    "ridge": Estimator("regression", "linear_model.Ridge"),
    "random_forest_regressor": Estimator("regression", "ensemble.RandomForestRegressor"),
    "hist_gradient_boosting_regressor": Estimator("regression", "ensemble.HistGradientBoostingRegressor"),
}


@dataclass(frozen=True)
class TaskDefaults:
    """What the scaffold proposes for a new pipeline of a task."""

    estimator: str
    alternatives: tuple[str, ...]
    metric: str
    threshold: float


TASK_DEFAULTS: dict[TaskType, TaskDefaults] = {
    "classification": TaskDefaults("logistic_regression",
                                   ("random_forest_classifier", "hist_gradient_boosting_classifier"), "roc_auc", 0.6),
    "regression": TaskDefaults("hist_gradient_boosting_regressor", ("ridge", "random_forest_regressor"), "r2", 0.5),
}


def metrics_for(task: str) -> dict[str, Metric]:
    """The metrics of a task, in catalogue order."""
    return {name: m for name, m in METRICS.items() if m.task == task}


def estimators_for(task: str) -> list[str]:
    """The estimators of a task, sorted."""
    return sorted(name for name, e in ESTIMATORS.items() if e.task == task)


def score_all(task: str, y, predicted, probability=None) -> dict[str, float]:
    """Every metric of ``task``, rounded to six places."""
    return {name: round(m.score(y, predicted, probability), 6) for name, m in metrics_for(task).items()}
