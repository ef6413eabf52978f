"""The Evidently gate for regression: thresholds on error metrics (MAE, MAPE in percent) and R2."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def regression_config():
    from mlcycle.core.config import load_pipeline
    from mlcycle.settings import INCLUDE_DIR

    return load_pipeline("pedestrians", INCLUDE_DIR / "pipelines")


def _scored(noise: float, seed: int = 0):
    from mlcycle.core.gating import scored_frame

    rng = np.random.default_rng(seed)
    y = rng.uniform(100, 200, 2000)
    return scored_frame(y, y + rng.normal(0, noise, y.size))


def _with_thresholds(config, thresholds: dict[str, float], tolerance: float = 0.0):
    return config.model_copy(update={"evaluation": config.evaluation.model_copy(
        update={"thresholds": thresholds, "max_regression": tolerance})})


def test_error_thresholds_pass_a_good_model_and_fail_a_poor_one(regression_config, tmp_path):
    from mlcycle.core.gating import evaluate

    config = _with_thresholds(regression_config, {"mae": 5.0, "mape": 0.05, "r2": 0.9})
    good = evaluate(config, _scored(noise=2.0), None, tmp_path / "good")
    assert good.passed, good.reasons
    assert {t["id"] for t in good.tests} == {"mae.absolute", "mape.absolute", "r2.absolute"}
    poor = evaluate(config, _scored(noise=20.0), None, tmp_path / "poor")
    assert not poor.passed
    assert {r.split(" ")[0] for r in poor.reasons} == {"mae", "mape", "r2"}


def test_a_challenger_worse_than_the_champion_fails_the_relative_test(regression_config, tmp_path):
    from mlcycle.core.gating import evaluate

    config = _with_thresholds(regression_config, {"mae": 50.0}, tolerance=0.5)
    result = evaluate(config, _scored(noise=8.0), _scored(noise=2.0, seed=1), tmp_path)
    statuses = {t["id"]: t["status"] for t in result.tests}
    assert statuses == {"mae.absolute": "SUCCESS", "mae.vs_champion": "FAIL"}
    assert not result.passed
