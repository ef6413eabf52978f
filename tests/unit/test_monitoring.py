"""The drift check on synthetic data: what drifts, what does not, sampling, empty columns, thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcycle.core.config import ConfigError, MonitoringConfig, PipelineConfig

COLUMNS = ["a", "b", "c", "kind"]


def _frame(rows: int, shift: float = 0.0, kinds: str = "xyz", seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(shift, 1, rows), "b": rng.normal(0, 1, rows),
                         "c": rng.integers(0, 100, rows), "kind": rng.choice(list(kinds), rows)})


def test_identical_distributions_do_not_drift():
    from mlcycle.core.monitoring import drift_report

    _, share, failed, scores, sampled = drift_report(_frame(5000, seed=1), _frame(5000, seed=2), COLUMNS,
                                                     MonitoringConfig(sample_rows=10_000))
    assert share == 0
    assert failed == set()
    assert set(scores) == set(COLUMNS)
    assert not sampled


def test_a_shifted_numeric_and_a_new_category_drift():
    from mlcycle.core.monitoring import drift_report

    current = _frame(3000, shift=1.0, kinds="xyw", seed=3)
    _, share, failed, scores, _ = drift_report(current, _frame(3000, seed=4), COLUMNS, MonitoringConfig())
    assert failed == {"a", "kind"}
    assert share == pytest.approx(0.5)
    assert scores["a"] > 0.5


def test_the_numeric_threshold_is_in_reference_standard_deviations():
    from mlcycle.core.monitoring import drift_report

    current = _frame(3000, shift=1.0, seed=5)
    _, _, failed, scores, _ = drift_report(current, _frame(3000, seed=6), COLUMNS,
                                           MonitoringConfig(numeric_threshold=2.0))
    assert "a" not in failed, scores
    _, _, failed, _, _ = drift_report(current, _frame(3000, seed=6), COLUMNS, MonitoringConfig(numeric_threshold=0.5))
    assert "a" in failed


def test_large_inputs_are_sampled_and_keep_the_verdict():
    from mlcycle.core.monitoring import drift_report

    current, reference = _frame(30_000, shift=0.5, seed=7), _frame(30_000, seed=8)
    limits = MonitoringConfig(sample_rows=5000)
    _, share, failed, _, sampled = drift_report(current, reference, COLUMNS, limits)
    _, full_share, full_failed, _, full_sampled = drift_report(current, reference, COLUMNS,
                                                               MonitoringConfig(sample_rows=30_000))
    assert sampled
    assert not full_sampled
    assert (failed, share) == (full_failed, full_share)


def test_a_column_empty_on_one_side_is_left_out_not_fatal():
    from mlcycle.core.monitoring import drift_report, empty_columns

    current = _frame(2000, seed=9).assign(b=np.nan)
    assert empty_columns(current, _frame(2000), COLUMNS) == ["b"]
    _, _, failed, scores, _ = drift_report(current, _frame(2000), COLUMNS, MonitoringConfig())
    assert "b" not in scores
    assert "b" not in failed


def test_nullable_pandas_dtypes_are_accepted():
    from mlcycle.core.monitoring import drift_report

    current = _frame(2000, seed=10).astype({"c": "Int64", "kind": "string"})
    _, share, _, _, _ = drift_report(current, _frame(2000, seed=11), COLUMNS, MonitoringConfig())
    assert share == 0


def test_sample_is_deterministic_and_bounded():
    from mlcycle.core.monitoring import sample

    frame = _frame(1000)
    assert sample(frame, 2000) is frame
    assert len(sample(frame, 100)) == 100
    assert sample(frame, 100).index.equals(sample(frame, 100).index)


def test_monitoring_columns_must_be_in_the_contract(flights_config):
    raw = flights_config.model_dump()
    raw["monitoring"]["columns"] = ["no_such_column"]
    with pytest.raises(ValueError, match="monitoring columns"):
        PipelineConfig.model_validate(raw)


def test_monitored_columns_default_to_the_features(flights_config):
    training = flights_config.training
    assert flights_config.monitored_columns == training.numeric_features + training.categorical_features


def test_a_bad_threshold_names_the_field(tmp_path):
    from mlcycle import settings
    from mlcycle.core.config import load_config

    text = (settings.pipelines_dir() / "flights.yaml").read_text().replace("drift_share: 0.1", "drift_share: 2")
    path = tmp_path / "flights.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="monitoring.drift_share"):
        load_config(path)
