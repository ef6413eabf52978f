"""ONNX export of a trained model (skl2onnx) and its parity with scikit-learn on a holdout (onnxruntime).

The whole ``Pipeline`` (imputers, scaler, one-hot encoder, estimator) becomes one ONNX graph with one
input per feature column: numbers as ``double`` ``[N, 1]``, strings as ``string`` ``[N, 1]`` where a
missing string is ``""`` (:func:`feed` builds the inputs from a frame).

skl2onnx 1.20.0 (the newest) with scikit-learn 1.9.1 and onnx 1.23 needs local converters
(:mod:`mlcycle.core.onnx_converters`), used for the conversion only, never registered globally:

- numeric ``SimpleImputer``: skl2onnx emits ``ai.onnx.ml.Imputer`` with float32 fill values, which
  onnxruntime has no double kernel for; here: ``Where(IsNaN(x), median, x)`` in double;
- categorical ``SimpleImputer`` and ``OneHotEncoder``: a missing string is None in scikit-learn and
  ``""`` in ONNX (see :func:`_conversion_copy`);
- ``OneHotEncoder`` with infrequent categories (``min_frequency``): skl2onnx supports them only with
  one input per column;
- tree ensembles decide as scikit-learn does: a forest on a float32 copy of its input with each
  threshold nudged to the largest float32 below it, a histogram booster with double thresholds; and
  skl2onnx passes booleans where onnx 1.23 wants ints. onnxruntime returns their scores in float32:
  see :data:`TOLERANCES`;
- the ``dummy_classifier`` baseline (``DummyClassifier``, ``prior``): skl2onnx has no converter; its twin
  is the logistic regression that gives the same probabilities (:func:`_without_baseline`).

A model that still cannot be converted raises :class:`OnnxExportError` with skl2onnx's reason.
"""

from __future__ import annotations

import copy
from typing import Any

from mlcycle.core import onnx_converters
from mlcycle.errors import DataError

TOLERANCE = 1e-5  # max abs difference allowed between onnxruntime and scikit-learn outputs
# Per estimator class, where 1e-5 absolute cannot hold: (tolerance, relative?, reason).
TOLERANCES: dict[str, tuple[float, bool, str]] = {
    name: (1e-6, True, "onnxruntime's TreeEnsembleRegressor sums the leaf values and returns them in float32 "
           "(about 7 significant digits), so a prediction of 1000 carries ~1e-4 of rounding: the gap is "
           "measured relative to max(1, |prediction|)")
    for name in ("RandomForestRegressor", "HistGradientBoostingRegressor")
}
TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}  # ai.onnx.ml 3: tree ensembles with double thresholds


class OnnxExportError(DataError):
    """The model could not be converted to ONNX, or its ONNX twin disagrees with it."""


NEVER_FED = "\x00not-fed"  # a string :func:`feed` never produces


def _conversion_copy(model):
    """The model as converted. :func:`mlcycle.core.training.prepare` gives a missing string as None, which
    scikit-learn's string imputer (``missing_values=NaN``) leaves alone and the one-hot encoder takes as a
    category of its own. ONNX strings cannot be None, so :func:`feed` gives ``""``: the copy's encoders
    know None as ``""``, and its string imputers get a ``missing_values`` that never occurs (as in sklearn)."""
    import numpy as np
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    twin = _without_baseline(copy.deepcopy(model))
    for step in _steps(twin):
        if isinstance(step, SimpleImputer) and step.statistics_.dtype == object:
            step.missing_values = NEVER_FED
        elif isinstance(step, OneHotEncoder):
            step.categories_ = [np.array(["" if c is None else c for c in cats], dtype=cats.dtype)
                                for cats in step.categories_]
    return twin


def _without_baseline(model):
    """skl2onnx has no converter for ``DummyClassifier``; its ``prior`` strategy on two classes is a logistic
    regression with no weights and the log-odds of the prior as intercept: the same probabilities and labels."""
    import numpy as np
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    final = model.steps[-1][1] if hasattr(model, "steps") else None
    if not isinstance(final, DummyClassifier) or final.strategy != "prior" or len(final.classes_) != 2:
        return model
    width = len(model[:-1].get_feature_names_out()) if len(model.steps) > 1 else final.n_features_in_
    twin = LogisticRegression()
    twin.classes_, twin.n_features_in_ = final.classes_, width
    twin.coef_, twin.intercept_ = np.zeros((1, width)), np.log(final.class_prior_[1:] / final.class_prior_[:1])
    model.steps[-1] = (model.steps[-1][0], twin)
    return model


def _steps(estimator):
    """Every fitted estimator inside pipelines and column transformers."""
    yield estimator
    for child in [s for _, s in getattr(estimator, "steps", [])] + \
                 [t for _, t, _ in getattr(estimator, "transformers_", [])]:
        if not isinstance(child, str):
            yield from _steps(child)


def input_types(model, columns: dict[str, str]) -> list[tuple[str, Any]]:
    """skl2onnx input types: one per feature the model was trained on, double or string."""
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    names = list(getattr(model, "feature_names_in_", columns))
    return [(c, DoubleTensorType([None, 1]) if columns.get(c) in ("int", "float", "bool")
             else StringTensorType([None, 1])) for c in names]


def convert(model, columns: dict[str, str]) -> bytes:
    """The model as a serialised ONNX graph; ``columns`` maps feature names to config column types."""
    from skl2onnx import convert_sklearn
    from sklearn import ensemble
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    trees = ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "RandomForestClassifier",
             "RandomForestRegressor")
    local = {OneHotEncoder: onnx_converters.one_hot, SimpleImputer: onnx_converters.imputer,
             **{getattr(ensemble, name): onnx_converters.trees for name in trees}}
    twin = _conversion_copy(model)
    final = twin.steps[-1][1] if hasattr(twin, "steps") else twin
    options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
    try:
        onx = convert_sklearn(twin, initial_types=input_types(model, columns), options=options,
                              target_opset=TARGET_OPSET,
                              custom_conversion_functions=local)
    except Exception as exc:  # skl2onnx raises many types (RuntimeError, NotImplementedError, ValueError, ...)
        reason = str(exc).splitlines()[0][:300]
        raise OnnxExportError(f"skl2onnx cannot convert {type(final).__name__}: {type(exc).__name__}: "
                              f"{reason}") from exc
    return onx.SerializeToString()


def feed(frame, columns: dict[str, str]) -> dict[str, Any]:
    """onnxruntime inputs from a model-input frame (:func:`mlcycle.core.training.prepare`)."""
    import numpy as np

    inputs = {}
    for name in frame.columns:
        values = frame[name]
        if columns.get(name) in ("int", "float", "bool"):
            inputs[name] = values.to_numpy(dtype=np.float64, na_value=np.nan).reshape(-1, 1)
        else:
            inputs[name] = np.array(["" if v is None else str(v) for v in values], dtype=object).reshape(-1, 1)
    return inputs


def session(onnx_bytes: bytes, threads: int = 0):
    """An onnxruntime session on the CPU (``threads`` 0: onnxruntime's default)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def predict(sess, frame, columns: dict[str, str]):
    """(predictions, positive-class probabilities or None) of an ONNX session, like training.predict."""
    import numpy as np

    outputs = sess.run(None, feed(frame, columns))
    predicted = np.asarray(outputs[0]).ravel()
    probability = np.asarray(outputs[1])[:, 1] if len(outputs) > 1 else None
    return predicted, probability


def tolerance(model) -> tuple[float, bool, str]:
    """(tolerance, relative, reason) of a model's parity check (its final estimator's class)."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return TOLERANCES.get(type(final).__name__, (TOLERANCE, False, "double precision end to end"))


def parity(model, onnx_bytes: bytes, frame, columns: dict[str, str]) -> float:
    """The gap between scikit-learn and onnxruntime on ``frame``: max abs difference of the positive-class
    probabilities (a classifier; its predicted labels must match, but for exact ties at 0.5) or of the predictions (a
    regressor; relative to max(1, |prediction|) where :data:`TOLERANCES` says so)."""
    import numpy as np

    predicted, probability = predict(session(onnx_bytes), frame, columns)
    if probability is not None:
        expected = model.predict_proba(frame)[:, 1]
        tie = np.abs(expected - 0.5) <= TOLERANCE  # a forest's 50/50 vote: the two break ties differently
        differ = (np.asarray(model.predict(frame)) != predicted) & ~tie
        if differ.any():
            raise OnnxExportError(f"{int(differ.sum())} predicted labels differ from scikit-learn's")
        return float(np.max(np.abs(expected - probability), initial=0.0))
    expected = np.asarray(model.predict(frame), dtype=np.float64)
    scale = np.maximum(1.0, np.abs(expected)) if tolerance(model)[1] else 1.0
    return float(np.max(np.abs(expected - predicted) / scale, initial=0.0))
