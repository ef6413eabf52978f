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

    y = np.random.default_rng(0).uniform(100, 200, 2000)  # the same holdout rows for every model
    return scored_frame(y, y + np.random.default_rng(seed + 1).normal(0, noise, y.size))


def _with_thresholds(config, thresholds: dict[str, float], tolerance: float = 0.0):
    return config.model_copy(update={"evaluation": config.evaluation.model_copy(
        update={"thresholds": thresholds, "max_regression": tolerance, "resamples": 200, "compare_on": []})})


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
    assert result.verdict == "reject"


# --- the paired comparison with the champion ------------------------------------------------------------------

@pytest.fixture
def flights_config():
    from mlcycle.core.config import load_pipeline
    from mlcycle.settings import INCLUDE_DIR

    return load_pipeline("flights", INCLUDE_DIR / "pipelines")


def _holdout(rows: int = 3000, seed: int = 7):
    """Labels with about one late flight in five, and a latent signal the models see through noise."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=rows)
    late = (rng.random(rows) < 1 / (1 + np.exp(-(signal * 1.5 - 1.8)))).astype(int)
    return rng, signal, late


def _model(late, score, threshold: float = 0.5):
    from mlcycle.core.gating import scored_frame

    probability = 1 / (1 + np.exp(-score))
    return scored_frame(late, (probability >= threshold).astype(int), probability)


def _july_case():
    """The demo's July case: the champion says "on time" for almost every flight (accuracy near the base
    rate, ranking near a coin); the challenger ranks well but flags more flights, so its accuracy is lower."""
    rng, signal, late = _holdout()
    champion = _model(late, rng.normal(0, 0.3, late.size) - 1.4)  # calibrated to the base rate, no ranking
    challenger = _model(late, 1.5 * signal - 1.8 + rng.normal(0, 0.3, late.size), threshold=0.25)
    return challenger, champion


def test_a_better_ranking_challenger_with_lower_accuracy_is_promoted(flights_config, tmp_path):
    from mlcycle.core import catalogue
    from mlcycle.core.gating import evaluate

    challenger, champion = _july_case()
    accuracy = catalogue.METRICS["accuracy"]
    assert (accuracy.score(challenger.target, challenger.prediction)
            < accuracy.score(champion.target, champion.prediction)), "the case needs the lower accuracy"
    result = evaluate(flights_config, challenger, champion, tmp_path)
    assert result.passed, result.reasons
    assert result.verdict == "promote"
    statuses = {t["id"]: t["status"] for t in result.tests}
    assert statuses == {"roc_auc.absolute": "SUCCESS", "log_loss.absolute": "SUCCESS", "accuracy.absolute": "SUCCESS",
                        "roc_auc.vs_champion": "SUCCESS"}
    assert not [t for t in result.tests if t["id"] == "accuracy.vs_champion"], "no relative accuracy test"
    roc = next(c for c in result.comparisons if c["metric"] == "roc_auc")
    assert roc["low"] > 0.1
    assert roc["challenger"] > roc["champion"]
    assert set(result.intervals) == {"roc_auc"}  # log loss is a ceiling in flights, not compared
    assert result.intervals["roc_auc"].endswith("@ 0.95")
    page = (tmp_path / "gate_report.html").read_text()
    assert 'id="mlcycle-gate"' in page
    assert result.intervals["roc_auc"] in page


def test_a_clearly_worse_challenger_is_rejected(flights_config, tmp_path):
    from mlcycle.core.gating import evaluate

    champion, _ = _july_case()
    rng, signal, late = _holdout()
    worse = _model(late, 0.5 * signal - 1.8 + rng.normal(0, 1.5, late.size))  # the same signal, drowned in noise
    result = evaluate(flights_config, worse, champion, tmp_path)
    assert not result.passed
    assert result.verdict == "reject"
    roc = next(c for c in result.comparisons if c["metric"] == "roc_auc")
    assert roc["high"] < -flights_config.evaluation.tolerance("roc_auc")
    assert any(r.startswith("roc_auc: challenger − champion in [") for r in result.reasons), result.reasons


def test_the_base_rate_baseline_is_rejected_with_its_reasons(flights_config, tmp_path):
    """make demo's deliberately worse candidate: ``dummy_classifier`` gives every row the training base rate,
    against a logistic regression on the same holdout rows."""
    from tests.unit.test_onnx_export import _frame

    from mlcycle.core import training
    from mlcycle.core.gating import evaluate, scored_frame

    config = flights_config
    train, holdout = _frame(config, 800, 1, unseen=False), _frame(config, 800, 2, unseen=False)

    def scored(estimator: str):
        model = training.make_model(config, estimator, {}).fit(training.prepare(train, config),
                                                                training.target(train, config))
        predicted, probability = training.predict(model, holdout, config)
        return scored_frame(training.target(holdout, config), predicted, probability)

    baseline = scored("dummy_classifier")
    assert baseline.probability.nunique() == 1, "the same probability for every row"
    result = evaluate(config, baseline, scored("logistic_regression"), tmp_path)
    assert (result.passed, result.verdict) == (False, "reject")
    roc = next(c for c in result.comparisons if c["metric"] == "roc_auc")
    assert roc["challenger"] == 0.5
    assert roc["high"] < -config.evaluation.tolerance("roc_auc")
    assert any(r.startswith("roc_auc >= 0.6 (absolute)") for r in result.reasons), result.reasons
    assert any(r.startswith("roc_auc: challenger − champion in [") for r in result.reasons), result.reasons


def _straddling(config):
    """Two models as good as each other, up to noise: the interval of the difference straddles -tol."""
    rng, signal, late = _holdout(rows=1500)
    first = _model(late, 1.5 * signal - 1.8 + rng.normal(0, 1.0, late.size))
    second = _model(late, 1.5 * signal - 1.8 + rng.normal(0, 1.0, late.size))
    evaluation = config.evaluation.model_copy(update={"compare_on": ["roc_auc"], "max_regression": 0.005})
    return config.model_copy(update={"evaluation": evaluation}), first, second


def test_an_interval_straddling_the_tolerance_is_inconclusive_and_not_promoted(flights_config, tmp_path):
    from mlcycle.core.gating import evaluate

    config, challenger, champion = _straddling(flights_config)
    result = evaluate(config, challenger, champion, tmp_path / "strict")
    (roc,) = result.comparisons
    assert roc["low"] < -0.005 < roc["high"]
    assert result.verdict == "inconclusive"
    assert not result.passed
    assert [t["status"] for t in result.tests if t["id"] == "roc_auc.vs_champion"] == ["WARNING"]

    lenient = config.model_copy(update={"evaluation": config.evaluation.model_copy(
        update={"allow_inconclusive": True})})
    allowed = evaluate(lenient, challenger, champion, tmp_path / "lenient")
    assert (allowed.verdict, allowed.passed, allowed.reasons) == ("inconclusive", True, [])


def test_the_comparison_is_deterministic_for_a_seed_and_paired():
    from mlcycle.core import comparison

    rng, signal, late = _holdout(rows=2000)
    models = [{"predicted": np.zeros(late.size), "probability": 1 / (1 + np.exp(-signal - rng.normal(0, s, late.size)))}
              for s in (0.8, 1.5)]
    args = (["roc_auc", "log_loss"], {"roc_auc": 0.0, "log_loss": 0.0}, late, *models, 0.95)
    once, again = comparison.compare(*args, 300, 3), comparison.compare(*args, 300, 3)
    assert once == again
    assert comparison.compare(*args, 300, 4) != once
    # a model against itself: every paired difference is exactly zero
    (same,) = comparison.compare(["roc_auc"], {"roc_auc": 0.0}, late, models[0], models[0], 0.95, 200, 0)
    assert (same.low, same.high, same.verdict) == (0.0, 0.0, "promote")
    # without resampling the point difference decides
    (point,) = comparison.compare(["roc_auc"], {"roc_auc": 0.0}, late, models[1], models[0], 0.95, 0, 0)
    assert (point.low, point.verdict) == (None, "reject")


def test_each_resampled_roc_auc_equals_scikit_learns_on_the_resampled_rows():
    """The vectorised Mann-Whitney count against sklearn's roc_auc_score, resample by resample, with tied
    scores (rounded probabilities, tie groups of both labels) and one constant model (every row tied)."""
    from sklearn.metrics import roc_auc_score

    from mlcycle.core import comparison

    rng, signal, late = _holdout(rows=1500)
    scores = [np.round(1 / (1 + np.exp(-signal - rng.normal(0, 1, late.size))), 2), np.full(late.size, 0.2)]
    index = np.random.default_rng(5).integers(0, late.size, size=(25, late.size))
    for score in scores:
        found = comparison._RankAuc(late.astype(float), score)(index)
        expected = [roc_auc_score(late[rows], score[rows]) for rows in index]
        np.testing.assert_allclose(found, expected, rtol=0, atol=1e-12)
    paired = comparison._paired_rank_auc(late.astype(float), *scores)(index)
    expected = [roc_auc_score(late[rows], scores[0][rows]) - roc_auc_score(late[rows], scores[1][rows])
                for rows in index]
    np.testing.assert_allclose(paired, expected, rtol=0, atol=1e-12)


def test_the_config_refuses_a_tolerance_for_a_metric_it_does_not_compare(flights_config):
    from mlcycle.core.config import PipelineConfig

    raw = flights_config.model_dump()
    raw["evaluation"]["max_regression"] = {"accuracy": 0.01}
    with pytest.raises(ValueError, match=r"max_regression names \['accuracy'\], which are not compared"):
        PipelineConfig.model_validate(raw)
    raw["evaluation"].update(compare_on=[], max_regression=0.02)
    config = PipelineConfig.model_validate(raw)
    assert (config.compared_metrics, config.evaluation.tolerance("roc_auc")) == (["roc_auc"], 0.02)
