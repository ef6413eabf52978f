"""The catalogue of metrics and estimators: one row is all a new metric or estimator needs."""

from __future__ import annotations

import numpy as np
import pytest

from mlcycle.core import catalogue, gating, training
from mlcycle.core.catalogue import Estimator, Metric
from mlcycle.core.config import ConfigError, PipelineConfig


def test_every_row_names_a_real_scorer_estimator_and_evidently_metric():
    from evidently import metrics as evidently_metrics
    from sklearn import metrics as sklearn_metrics

    for name, metric in catalogue.METRICS.items():
        assert callable(getattr(sklearn_metrics, metric.scorer)), name
        assert hasattr(evidently_metrics, metric.evidently), name
    for name, estimator in catalogue.ESTIMATORS.items():
        assert estimator.load()().__class__.__name__ == estimator.cls.rsplit(".", 1)[1], name
    for task, defaults in catalogue.TASK_DEFAULTS.items():
        assert {defaults.estimator, *defaults.alternatives} <= set(catalogue.estimators_for(task))
        assert defaults.metric in catalogue.metrics_for(task)


def test_scores_follow_the_table():
    y, predicted, probability = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), np.array([0.2, 0.9, 0.4, 0.1])
    scores = catalogue.score_all("classification", y, predicted, probability)
    assert set(scores) == set(catalogue.metrics_for("classification"))
    assert scores["accuracy"] == 0.75
    assert scores["roc_auc"] == 1.0  # from the probabilities, not the labels


def test_a_metric_added_to_the_table_reaches_config_training_and_the_gate(monkeypatch, flights_config):
    monkeypatch.setitem(catalogue.METRICS, "balanced_accuracy",
                        Metric("classification", True, "balanced_accuracy_score", evidently="Accuracy"))
    raw = flights_config.model_dump()
    raw["evaluation"]["thresholds"] = {"balanced_accuracy": 0.5}
    config = PipelineConfig.model_validate(raw)
    y, predicted = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    assert training.metrics_from_predictions(config, y, predicted, predicted * 1.0)["balanced_accuracy"] == 0.75
    _, names, ids = gating.gate_metrics(config)
    assert ids == ["balanced_accuracy.absolute"]
    assert names[0] == "balanced_accuracy >= 0.5 (absolute)"


def test_an_estimator_added_to_the_table_can_be_configured_and_built(monkeypatch, flights_config):
    monkeypatch.setitem(catalogue.ESTIMATORS, "extra_trees_classifier",
                        Estimator("classification", "ensemble.ExtraTreesClassifier", {"n_estimators": 7}))
    raw = flights_config.model_dump()
    raw["training"]["allowed_estimators"] = [*raw["training"]["allowed_estimators"], "extra_trees_classifier"]
    config = PipelineConfig.model_validate(raw)
    model = training.make_model(config, "extra_trees_classifier", {"max_depth": 3, "not_a_param": 1})
    assert model.named_steps["estimator"].get_params()["n_estimators"] == 7
    assert model.named_steps["estimator"].get_params()["max_depth"] == 3


def test_a_metric_or_estimator_of_another_task_is_refused(flights_config):
    raw = flights_config.model_dump()
    raw["evaluation"]["thresholds"] = {"r2": 0.5}
    with pytest.raises(ValueError, match="metric 'r2' is not one of"):
        PipelineConfig.model_validate(raw)
    raw = flights_config.model_dump()
    raw["training"]["allowed_estimators"] = ["ridge"]
    with pytest.raises(ValueError, match=r"do not fit task 'classification' \(its estimators:"):
        PipelineConfig.model_validate(raw)
    assert issubclass(ConfigError, ValueError)
