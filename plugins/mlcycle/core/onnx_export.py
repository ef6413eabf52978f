"""ONNX export of a trained model (skl2onnx) and its parity with scikit-learn on a holdout (onnxruntime).

The whole ``Pipeline`` (imputers, scaler, one-hot encoder, estimator) becomes one ONNX graph with one
input per feature column: numbers as ``double`` ``[N, 1]``, strings as ``string`` ``[N, 1]`` where a
missing string is ``""`` (:func:`feed` builds the inputs from a frame). The graph computes in double
precision end to end, so trees compare thresholds as scikit-learn does and no split flips.

skl2onnx 1.20.0 (the newest) with scikit-learn 1.9.1 and onnx 1.23 needs four local converters, registered for the
conversion only (``custom_conversion_functions``), never globally:

- numeric ``SimpleImputer``: skl2onnx emits ``ai.onnx.ml.Imputer`` with float32 fill values, which
  onnxruntime has no double kernel for; here: ``Where(IsNaN(x), median, x)`` in double;
- categorical ``SimpleImputer`` and ``OneHotEncoder``: a missing string is None in scikit-learn and
  ``""`` in ONNX (see :func:`_conversion_copy`);
- ``OneHotEncoder`` with infrequent categories (``min_frequency``): skl2onnx supports them only with
  one input per column (see :func:`_one_hot`);
- tree ensembles: converted in ``ai.onnx.ml`` 3 (double thresholds, :func:`_trees`); and skl2onnx passes
  booleans where onnx 1.23 wants ints (:class:`_IntFlags`).

A model that still cannot be converted raises :class:`OnnxExportError` with skl2onnx's reason.
"""

from __future__ import annotations

import copy
from typing import Any

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


def _one_hot(scope, operator, container) -> None:
    """A string ``OneHotEncoder`` (``handle_unknown="ignore"``, infrequent categories or not): per column,
    category -> output index (``LabelEncoder``; unknown -> one past the end), ``OneHot``, the extra column
    dropped; the columns concatenated. Other encoders go to skl2onnx's converter."""
    from skl2onnx.common.data_types import StringTensorType, guess_proto_type
    from skl2onnx.operator_converters.one_hot_encoder import convert_sklearn_one_hot_encoder
    from skl2onnx.proto import onnx_proto

    encoder, source = operator.raw_operator, operator.inputs[0]
    if len(operator.inputs) > 1 or not isinstance(source.type, StringTensorType):
        convert_sklearn_one_hot_encoder(scope, operator, container)
        return
    int64 = onnx_proto.TensorProto.INT64

    def constant(kind, values, dims=None) -> str:
        name = scope.get_unique_variable_name("const")
        container.add_initializer(name, kind, dims or [len(values)], values)
        return name

    def node(op: str, inputs: list[str], **attrs) -> str:
        out = scope.get_unique_variable_name(op.lower())
        container.add_node(op, inputs, out, name=scope.get_unique_operator_name(op), **attrs)
        return out

    columns = []
    for i, categories in enumerate(encoder.categories_):
        width = len(encoder._compute_transformed_categories(i))
        infrequent = set(encoder.infrequent_categories_[i] if encoder._infrequent_enabled
                         and encoder.infrequent_categories_[i] is not None else [])
        frequent = [c for c in categories if c not in infrequent]
        index = {c: (width - 1 if c in infrequent else frequent.index(c)) for c in categories}
        column = node("Gather", [source.full_name, constant(int64, [i], [1])], axis=1)
        position = scope.get_unique_variable_name("position")
        container.add_node("LabelEncoder", [column], position, op_domain="ai.onnx.ml", op_version=2,
                           keys_strings=[str(c) for c in index], values_int64s=list(index.values()),
                           default_int64=width, name=scope.get_unique_operator_name("LabelEncoder"))
        hot = node("OneHot", [position, constant(int64, [width + 1], [1]),
                              constant(onnx_proto.TensorProto.FLOAT, [0.0, 1.0])], axis=-1)
        flat = node("Reshape", [hot, constant(int64, [-1, width + 1])])
        columns.append(node("Slice", [flat, constant(int64, [0]), constant(int64, [width]), constant(int64, [1])]))
    joined = node("Concat", columns, axis=1)
    container.add_node("Cast", [joined], operator.outputs[0].full_name, to=guess_proto_type(operator.outputs[0].type),
                       name=scope.get_unique_operator_name("Cast"))


def _imputer(scope, operator, container) -> None:
    import numpy as np
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer
    from skl2onnx.proto import onnx_proto

    imputer = operator.raw_operator
    if not isinstance(operator.inputs[0].type, DoubleTensorType):
        convert_sklearn_imputer(scope, operator, container)
        return
    source = operator.inputs[0].full_name
    fill = scope.get_unique_variable_name("fill")
    container.add_initializer(fill, onnx_proto.TensorProto.DOUBLE, [len(imputer.statistics_)],
                              np.asarray(imputer.statistics_, dtype=np.float64).tolist())
    missing = scope.get_unique_variable_name("missing")
    container.add_node("IsNaN", [source], [missing], name=scope.get_unique_operator_name("IsNaN"))
    container.add_node("Where", [missing, fill, source], [operator.outputs[0].full_name],
                       name=scope.get_unique_operator_name("Where"))


DOUBLE_ATTRIBUTES = ("nodes_values", "target_weights", "class_weights", "base_values")


def _float32_at_most(thresholds):
    """For each double threshold t, the largest float32 <= t: float32(x) <= t exactly when x32 <= that."""
    import numpy as np

    t = np.asarray(thresholds, dtype=np.float64)
    low = t.astype(np.float32)
    over = low.astype(np.float64) > t
    low[over] = np.nextafter(low[over], np.float32(-np.inf))
    return low


class _TreeContainer:
    """The container a tree-ensemble converter writes to: its ``TreeEnsemble*`` node computes as scikit-learn.

    A random forest casts its input to float32 and compares it with double thresholds: the node gets a
    float32 copy of the input and each threshold's largest float32 below it (the same decisions). A
    histogram booster compares float64 input with float64 thresholds: the node gets double thresholds and
    leaf values (``*_as_tensor``, ``ai.onnx.ml`` 3). onnxruntime returns float32: cast back to double.
    And skl2onnx 1.20.0 passes booleans where onnx 1.23 wants ints (``nodes_missing_value_tracks_true``)."""

    def __init__(self, scope, container, booster: bool, declared: dict[str, int]) -> None:
        self._scope, self._container, self._booster, self._declared = scope, container, booster, declared

    def __getattr__(self, name: str):
        return getattr(self._container, name)

    def _cast(self, source: str, kind: int) -> str:
        target = self._scope.get_unique_variable_name("cast")
        self._container.add_node("Cast", [source], [target], to=kind, name=self._scope.get_unique_operator_name("Cast"))
        return target

    def add_node(self, op_type, inputs, outputs, *args, **attrs):
        import numpy as np
        from onnx import numpy_helper
        from skl2onnx.proto import onnx_proto

        for key, value in list(attrs.items()):
            if isinstance(value, list | tuple | np.ndarray) and any(isinstance(v, bool | np.bool_) for v in value):
                attrs[key] = [int(v) for v in value]
        if not op_type.startswith("TreeEnsemble"):
            return self._container.add_node(op_type, inputs, outputs, *args, **attrs)
        inputs = [inputs] if isinstance(inputs, str) else list(inputs)
        if self._booster:
            for key in [k for k in DOUBLE_ATTRIBUTES if k in attrs]:
                attrs[f"{key}_as_tensor"] = numpy_helper.from_array(np.asarray(attrs.pop(key), dtype=np.float64))
        else:
            attrs["nodes_values"] = _float32_at_most(attrs["nodes_values"]).tolist()
            inputs = [self._cast(inputs[0], onnx_proto.TensorProto.FLOAT)]
        outputs = [outputs] if isinstance(outputs, str) else list(outputs)
        scores = self._scope.get_unique_variable_name("float32_scores")
        self._container.add_node(op_type, inputs, [*outputs[:-1], scores], *args, **attrs)
        self._container.add_node("Cast", [scores], [outputs[-1]], name=self._scope.get_unique_operator_name("Cast"),
                                 to=self._declared.get(outputs[-1], onnx_proto.TensorProto.DOUBLE))
        return None


def _trees(scope, operator, container) -> None:
    """skl2onnx's tree-ensemble converters, writing through :class:`_TreeContainer`."""
    from skl2onnx.operator_converters import random_forest

    raw = operator.raw_operator
    convert = (random_forest.convert_sklearn_random_forest_classifier if hasattr(raw, "predict_proba")
               else random_forest.convert_sklearn_random_forest_regressor_converter)
    from skl2onnx.common.data_types import guess_proto_type

    declared = {v.full_name: guess_proto_type(v.type) for v in operator.outputs}
    booster = hasattr(raw, "n_trees_per_iteration_")
    convert(scope, operator, _TreeContainer(scope, container, booster, declared), op_version=3)


NEVER_FED = "\x00not-fed"  # a string :func:`feed` never produces


def _conversion_copy(model):
    """The model as converted. :func:`mlcycle.core.training.prepare` gives a missing string as None, which
    scikit-learn's string imputer (``missing_values=NaN``) leaves alone and the one-hot encoder takes as a
    category of its own. ONNX strings cannot be None, so :func:`feed` gives ``""``: the copy's encoders
    know None as ``""``, and its string imputers get a ``missing_values`` that never occurs (as in sklearn)."""
    import numpy as np
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    twin = copy.deepcopy(model)
    for step in _steps(twin):
        if isinstance(step, SimpleImputer) and step.statistics_.dtype == object:
            step.missing_values = NEVER_FED
        elif isinstance(step, OneHotEncoder):
            step.categories_ = [np.array(["" if c is None else c for c in cats], dtype=cats.dtype)
                                for cats in step.categories_]
    return twin


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
    local = {OneHotEncoder: _one_hot, SimpleImputer: _imputer,
             **{getattr(ensemble, name): _trees for name in trees}}
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


def session(onnx_bytes: bytes):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
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
    probabilities (a classifier; its predicted labels must match exactly) or of the predictions (a
    regressor; relative to max(1, |prediction|) where :data:`TOLERANCES` says so)."""
    import numpy as np

    predicted, probability = predict(session(onnx_bytes), frame, columns)
    if probability is not None:
        labels = model.predict(frame)
        if (np.asarray(labels) != predicted).any():
            raise OnnxExportError(f"{int((labels != predicted).sum())} predicted labels differ from scikit-learn's")
        return float(np.max(np.abs(model.predict_proba(frame)[:, 1] - probability), initial=0.0))
    expected = np.asarray(model.predict(frame), dtype=np.float64)
    scale = np.maximum(1.0, np.abs(expected)) if tolerance(model)[1] else 1.0
    return float(np.max(np.abs(expected - predicted) / scale, initial=0.0))
