"""The skl2onnx converters :mod:`mlcycle.core.onnx_export` uses in place of skl2onnx 1.20.0's own, for one
conversion at a time (``custom_conversion_functions``), never registered globally. Why each: see there.
"""

from __future__ import annotations


def one_hot(scope, operator, container) -> None:
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


def imputer(scope, operator, container) -> None:
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


def trees(scope, operator, container) -> None:
    """skl2onnx's tree-ensemble converters, writing through :class:`_TreeContainer`."""
    from skl2onnx.operator_converters import random_forest

    raw = operator.raw_operator
    convert = (random_forest.convert_sklearn_random_forest_classifier if hasattr(raw, "predict_proba")
               else random_forest.convert_sklearn_random_forest_regressor_converter)
    from skl2onnx.common.data_types import guess_proto_type

    declared = {v.full_name: guess_proto_type(v.type) for v in operator.outputs}
    booster = hasattr(raw, "n_trees_per_iteration_")
    convert(scope, operator, _TreeContainer(scope, container, booster, declared), op_version=3)
