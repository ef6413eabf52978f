"""ONNX parity: every estimator each shipped pipeline allows, trained as training trains it, converted with
skl2onnx and run with onnxruntime, agrees with scikit-learn within 1e-5 on a holdout.

The data follows each pipeline's own columns: numbers with gaps (NaN), categories with gaps (None), rare
categories (the one-hot encoder's infrequent group) and categories the model never saw (in the holdout).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from threadpoolctl import threadpool_limits

from mlcycle.core import onnx_export, training
from mlcycle.core.config import load_pipelines

PIPELINES = {c.name: c for c in load_pipelines() if c.training}
CASES = [(name, estimator) for name, c in PIPELINES.items() for estimator in c.training.estimators]


def _frame(config, rows: int, seed: int, unseen: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(index=range(rows))
    for i, column in enumerate(config.training.numeric_features):
        values = rng.normal(10 * i, 3 + i, rows)
        values[rng.random(rows) < 0.05] = np.nan
        frame[column] = values
    for column in config.training.categorical_features:
        common = [f"{column}-{k}" for k in range(4)]
        values = rng.choice(common + ["rare-a", "rare-b"], rows, p=[0.24, 0.24, 0.24, 0.24, 0.02, 0.02])
        values = values.astype(object)
        values[rng.random(rows) < 0.05] = None
        if unseen:
            values[:5] = "never-seen"
        frame[column] = values
    signal = np.nan_to_num(frame[config.training.numeric_features[0]].to_numpy()) / 10
    if config.task == "classification":
        frame[config.label] = (signal + rng.normal(0, 1, rows) > np.median(signal)).astype("int64")
    else:
        frame[config.label] = 100 + 5 * signal + rng.normal(0, 2, rows)
    return frame


@pytest.mark.parametrize(("pipeline", "estimator"), CASES)
def test_onnx_twin_agrees_with_scikit_learn_on_the_holdout(pipeline, estimator):
    config = PIPELINES[pipeline]
    train, holdout = _frame(config, 600, 1, unseen=False), _frame(config, 300, 2, unseen=True)
    model = training.make_model(config, estimator, {"max_depth": 4, "n_estimators": 20, "max_iter": 30})
    with threadpool_limits(1):  # OpenMP threads of the boosters crawl on a busy 2-core machine
        model.fit(training.prepare(train, config), training.target(train, config))
    x = training.prepare(holdout, config)

    onnx_bytes = onnx_export.convert(model, config.columns)
    gap = onnx_export.parity(model, onnx_bytes, x, config.columns)

    limit, _, reason = onnx_export.tolerance(model)
    assert gap <= limit, f"{estimator}: onnxruntime differs from scikit-learn by {gap} (tolerance {limit}: {reason})"
    predicted, probability = onnx_export.predict(onnx_export.session(onnx_bytes), x, config.columns)
    assert len(predicted) == len(holdout)
    assert (probability is None) == (config.task == "regression")


class Unknown(BaseEstimator, TransformerMixin):
    """An estimator skl2onnx has no converter for."""

    def fit(self, x, y=None):
        return self

    def transform(self, x):
        return x


def test_a_model_skl2onnx_cannot_convert_is_refused_with_its_reason():
    model = Unknown().fit(np.arange(20.0).reshape(-1, 1))
    with pytest.raises(onnx_export.OnnxExportError, match="skl2onnx cannot convert Unknown: .*Unknown"):
        onnx_export.convert(model, {"x0": "float"})
