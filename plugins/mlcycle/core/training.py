"""Training with scikit-learn: dataset from validated partitions, chronological split, search, fit.

Preprocessing lives inside the model (a ``Pipeline``), so serving sees exactly what training saw.
No MLflow and no Airflow here: :mod:`mlcycle.core.registry` records what this module produces.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcycle.core import lake, storage
from mlcycle.core.catalogue import ESTIMATORS, METRICS, score_all
from mlcycle.core.config import PipelineConfig
from mlcycle.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)
SPLIT_COLUMN = "_split"


class TrainingDataError(DataError):
    """Not enough validated data for the requested window."""


@dataclass
class Candidate:
    """One point of the search: its parameters and its validation metrics."""

    params: dict[str, Any]
    metrics: dict[str, float]


@dataclass
class TrainingResult:
    """The fitted model, what it was trained on, and how it scored."""

    model: Pipeline
    estimator: str
    params: dict[str, Any]
    holdout_metrics: dict[str, float]
    candidates: list[Candidate] = field(default_factory=list)
    train_rows: int = 0
    holdout_rows: int = 0


def window_dates(config: PipelineConfig, end: str, window_days: int | None = None) -> list[str]:
    """The validated dates inside the window that ends at ``end`` (inclusive)."""
    days = window_days or config.training.window_days
    first = (dt.date.fromisoformat(end) - dt.timedelta(days=days - 1)).isoformat()
    return [d for d in storage.list_partitions("validated", config.name) if first <= d <= end]


def build_snapshot(config: PipelineConfig, end: str, window_days: int | None = None) -> pd.DataFrame:
    """Training snapshot: the window's validated rows, each marked train or holdout by date."""
    import pandas as pd

    dates = window_dates(config, end, window_days)
    holdout_days = config.training.holdout_days
    if len(dates) < config.training.min_window_days:
        raise TrainingDataError(
            f"{config.name}: only {len(dates)} validated day(s) in the window ending {end} "
            f"({dates}); training needs holdout_days + 2 = {config.training.min_window_days}. Ingest and validate "
            "more days, or widen training.window_days")
    frames = [storage.read_partition(lake.partition("validated", config.name, d)) for d in dates]
    snapshot = pd.concat(frames, ignore_index=True)
    holdout = set(dates[-holdout_days:])
    day = snapshot[config.date_column].dt.strftime("%Y-%m-%d")
    snapshot[SPLIT_COLUMN] = day.map(lambda d: "holdout" if d in holdout else "train")
    return snapshot


def features(config: PipelineConfig) -> list[str]:
    return config.training.numeric_features + config.training.categorical_features


def _accepted(name: str) -> set[str]:
    return set(ESTIMATORS[name].load()().get_params())


def _estimator(name: str, params: dict[str, Any], random_state: int):
    entry = ESTIMATORS[name]
    accepted = _accepted(name)
    kwargs = {**entry.defaults, **{k: v for k, v in params.items() if k in accepted}}
    if "random_state" in accepted:
        kwargs["random_state"] = random_state
    return entry.load()(**kwargs)


def make_model(config: PipelineConfig, estimator: str, params: dict[str, Any]) -> Pipeline:
    """Preprocessing + estimator as one sklearn Pipeline."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         config.training.numeric_features),
        ("categorical", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                      OneHotEncoder(handle_unknown="ignore", min_frequency=20)),
         config.training.categorical_features),
    ], sparse_threshold=0)
    return Pipeline([("preprocess", pre),
                     ("estimator", _estimator(estimator, params, config.training.random_state))])


def prepare(frame: pd.DataFrame, config: PipelineConfig, columns: list[str] | None = None) -> pd.DataFrame:
    """Model input: ``columns`` (default: the config's features) with plain numpy dtypes, as in the signature."""
    columns = columns or features(config)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TrainingDataError(f"the model needs columns {missing} that the data no longer has; "
                                "retrain it, or roll back to a model trained on the current columns")
    import numpy as np
    import pandas as pd

    data = {}
    for column in columns:  # plain numpy arrays, one frame built at the end (online requests: 1 row, often)
        if config.columns.get(column) in ("int", "float", "bool"):
            data[column] = frame[column].to_numpy(dtype="float64", na_value=np.nan)
        else:
            values = frame[column].to_numpy(dtype=object, copy=True)
            values[pd.isna(values)] = None
            data[column] = values
    return pd.DataFrame(data, index=frame.index, columns=columns)


def target(frame: pd.DataFrame, config: PipelineConfig):
    kind = "int64" if config.task == "classification" else "float64"
    return frame[config.label].astype(kind).to_numpy()


def score(model: Pipeline, frame: pd.DataFrame, config: PipelineConfig) -> dict[str, float]:
    """The task's metrics of ``model`` on ``frame`` (which must carry the label)."""
    return metrics_from_predictions(config, target(frame, config), *predict(model, frame, config))


def predict(model: Pipeline, frame: pd.DataFrame, config: PipelineConfig):
    """(predictions, positive-class probabilities or None), each model on the columns it was trained on."""
    x = prepare(frame, config, list(getattr(model, "feature_names_in_", [])) or None)
    if config.task != "classification":
        return model.predict(x), None
    steps = getattr(model, "steps", None)
    if steps and len(steps) > 1:  # what Pipeline.predict and .predict_proba each do, preprocessing only once
        x, model = model[:-1].transform(x), steps[-1][1]
    return model.predict(x), model.predict_proba(x)[:, 1]


def metrics_from_predictions(config: PipelineConfig, y, predicted, probability=None) -> dict[str, float]:
    """Every catalogue metric of the pipeline's task."""
    return score_all(config.task, y, predicted, probability)


def _grid(search: dict[str, list]) -> list[dict[str, Any]]:
    keys = sorted(search)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(search[k] for k in keys))] or [{}]


def train(config: PipelineConfig, snapshot: pd.DataFrame, estimator: str | None = None) -> TrainingResult:
    """Search on the train split (its last day validates), refit the best, score it on the holdout."""
    estimator = estimator or config.training.estimator
    if estimator not in config.training.estimators:
        raise TrainingDataError(f"estimator '{estimator}' is not allowed for {config.name}; "
                                f"choose one of {config.training.estimators}")
    train_rows = snapshot[snapshot[SPLIT_COLUMN] == "train"]
    holdout = snapshot[snapshot[SPLIT_COLUMN] == "holdout"]
    day = train_rows[config.date_column]
    fit_part, valid_part = train_rows[day < day.max()], train_rows[day == day.max()]
    primary = config.training.primary_metric
    higher_is_better = METRICS[primary].higher_is_better
    candidates = []
    accepted = _accepted(estimator)
    for point in _grid({k: v for k, v in config.training.search.items() if k in accepted}):
        params = {k: v for k, v in {**config.training.params, **point}.items() if k in accepted}
        model = make_model(config, estimator, params).fit(prepare(fit_part, config), target(fit_part, config))
        candidates.append(Candidate(params, score(model, valid_part, config)))
        log.info("candidate %s: %s", params, candidates[-1].metrics)
    best = (max if higher_is_better else min)(candidates, key=lambda c: c.metrics[primary])
    model, holdout_metrics = refit(config, snapshot, estimator, best.params)
    return TrainingResult(model=model, estimator=estimator, params=best.params, holdout_metrics=holdout_metrics,
                          candidates=candidates, train_rows=len(train_rows), holdout_rows=len(holdout))


def refit(config: PipelineConfig, snapshot: pd.DataFrame, estimator: str,
          params: dict[str, Any]) -> tuple[Pipeline, dict[str, float]]:
    """Fit ``estimator`` with ``params`` on the snapshot's train split; score it on its holdout.

    The last step of :func:`train`, and what ``make reproduce`` runs again with a version's recorded params."""
    train_rows = snapshot[snapshot[SPLIT_COLUMN] == "train"]
    model = make_model(config, estimator, params).fit(prepare(train_rows, config), target(train_rows, config))
    return model, score(model, snapshot[snapshot[SPLIT_COLUMN] == "holdout"], config)
