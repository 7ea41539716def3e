"""The Keras dialect's defaults, softmax axes, library export and labels, against Keras 3.

Each default is checked by building the Keras layer with the argument left out (or given)
and comparing its output shape, or its refusal, with convcalc's; a softmax's axis by running
the Keras model and finding the axis along which its output sums to 1.
"""

from __future__ import annotations

import types
from typing import Any

import pytest

from convcalc.analysis import analyse
from convcalc.errors import ConvcalcError, SpecError
from convcalc.frameworks.keras.export import to_keras
from convcalc.render.text import written_label
from convcalc.spec.validate import load_spec
from tests.keras_oracle import KERAS_MARKS, keras

pytestmark = KERAS_MARKS


def keras_build(shape: tuple[int, ...], layers: list[dict[str, Any]]) -> Any:
    """The stack built by Keras, each layer by its class and the arguments written."""
    built = [
        getattr(keras.layers, item["type"])(**{k: v for k, v in item.items() if k != "type"})
        for item in layers
    ]
    return keras.Sequential([keras.Input(shape), *built])


def spec_of(shape: tuple[int, ...], layers: list[dict[str, Any]], **top: Any) -> Any:
    written = {"name": "k", "framework": "keras", "input": list(shape), **top}
    return load_spec({**written, "layers": layers})


@pytest.mark.parametrize(
    ("shape", "layer"),
    [
        ((9, 4), {"type": "MaxPooling1D"}),
        ((9, 9, 4), {"type": "MaxPooling2D"}),
        ((6, 7, 8, 2), {"type": "MaxPooling3D"}),
        ((9, 4), {"type": "Cropping1D"}),
        ((9, 9, 4), {"type": "Cropping2D"}),
        ((6, 7, 8, 2), {"type": "Cropping3D"}),
        ((9, 9, 4), {"type": "ZeroPadding2D"}),
        ((9, 4), {"type": "UpSampling1D"}),
        ((3, 4, 5, 2), {"type": "UpSampling3D"}),
        ((9, 9, 4), {"type": "AveragePooling2D", "pool_size": 3}),
    ],
)
def test_defaults_are_keras(shape: tuple[int, ...], layer: dict[str, Any]) -> None:
    """Left out, an argument is Keras' default: the output shape Keras builds."""
    theirs = tuple(keras_build(shape, [layer]).output_shape[1:])
    report = analyse(spec_of(shape, [layer]))
    assert report.dialect is not None
    assert report.dialect.shape(report.output_shape) == theirs


@pytest.mark.parametrize(
    ("shape", "layer", "field"),
    [
        ((9, 4), {"type": "AveragePooling1D"}, None),
        ((9, 9, 4), {"type": "AveragePooling2D"}, None),
        ((6, 7, 8, 2), {"type": "AveragePooling3D", "strides": 2}, None),
        ((9, 4), {"type": "Cropping1D", "data_format": "channels_last"}, "data_format"),
        ((9, 4), {"type": "UpSampling1D", "data_format": "channels_last"}, "data_format"),
        ((3, 4, 5, 2), {"type": "UpSampling3D", "interpolation": "nearest"}, "interpolation"),
    ],
)
def test_refused_where_keras_refuses(
    shape: tuple[int, ...], layer: dict[str, Any], field: str | None
) -> None:
    """AveragePooling has no default pool_size; Cropping1D and UpSampling1D take no
    data_format, UpSampling3D no interpolation: Keras refuses, so does convcalc, located."""
    with pytest.raises((TypeError, ValueError)):
        keras_build(shape, [layer])
    with pytest.raises(SpecError) as refusal:
        analyse(spec_of(shape, [layer]))
    text = str(refusal.value)
    assert f"layers[0] ({layer['type']})" in text
    if field is None:
        assert "field pool_size: is required but missing" in text
    else:
        assert f"field {field}: unknown argument" in text


def keras_softmax_axis(model: Any, shape: tuple[int, ...]) -> int:
    """The axis (batch excluded) along which Keras' output sums to 1, run on random values."""
    x = keras.random.uniform((2, *shape), seed=1)
    y = keras.ops.convert_to_numpy(model(x))[0]
    axes = [a for a in range(y.ndim) if abs(y.sum(axis=a) - 1).max() < 1e-5]
    assert len(axes) == 1, axes
    return axes[0]


def convcalc_softmax_axis(report: Any) -> int:
    """The last step's softmax dim (the batch counted, PyTorch's), as Keras' axis without the
    batch: records (C, *spatial) are Keras' (*spatial, C) channels-last."""
    entry = report.layers[-1]
    while entry.children:
        entry = entry.children[-1][1][-1]
    rank = len(entry.input_shape)
    index = entry.layer.dim % (rank + 1) - 1  # the records' index, batch excluded
    assert 0 <= index < rank
    channels_last = report.dialect.channels_last
    return (index - 1) % rank if channels_last and rank > 1 else index


SOFTMAX = {"activation": "softmax"}


@pytest.mark.parametrize(
    ("shape", "layer", "data_format"),
    [
        ((7,), {"type": "Dense", "units": 3, "activation": "softmax"}, None),
        ((5, 5, 2), {"type": "Dense", "units": 3, "activation": "softmax"}, None),
        ((5, 5, 2), {"type": "Conv2D", "filters": 3, "kernel_size": 2, **SOFTMAX}, None),
        ((6, 2), {"type": "Conv1D", "filters": 3, "kernel_size": 2, **SOFTMAX}, None),
        ((5, 5, 2), {"type": "Softmax"}, None),
        ((5, 5, 2), {"type": "Softmax", "axis": 1}, None),
        ((5, 6, 2), {"type": "Softmax", "axis": -2}, None),
        ((5, 5, 2), {"type": "Activation", "activation": "softmax"}, None),
        ((3, 5, 4), {"type": "Softmax"}, "channels_first"),
        ((3, 5, 4), {"type": "Dense", "units": 2, "activation": "softmax"}, "channels_first"),
    ],
)
def test_softmax_axis_is_keras(
    shape: tuple[int, ...], layer: dict[str, Any], data_format: str | None
) -> None:
    """A softmax (Softmax, Activation, a layer's activation=) normalises along Keras' axis,
    never along the batch."""
    top = {"data_format": data_format} if data_format else {}
    report = analyse(spec_of(shape, [layer], **top))
    keras.backend.clear_session()
    if data_format:
        keras.config.set_image_data_format(data_format)
    try:
        model = keras_build(shape, [layer])
    finally:
        keras.config.set_image_data_format("channels_last")
    assert convcalc_softmax_axis(report) == keras_softmax_axis(model, shape)


def test_to_keras_reads_a_keras_spec() -> None:
    """The library's to_keras writes a Keras spec as Keras writes it (the CLI's one path):
    the model built from it is the one Keras builds from the homework's layers."""
    spec = load_spec("hw3-q3-keras")
    report = analyse(spec)
    with pytest.raises(ConvcalcError, match=r"needs the spec itself"):
        to_keras(report)
    source = to_keras(report, spec=spec)
    assert "keras.layers.ZeroPadding2D" in source
    module = types.ModuleType("exported")
    exec(compile(source, "<exported>", "exec"), module.__dict__)
    ours = module.build()
    theirs = keras_build(
        (128, 128, 3),
        [
            {"type": "Conv2D", "filters": 32, "kernel_size": 8, "strides": 2},
            {"type": "MaxPooling2D", "pool_size": 5, "strides": 5},
            {"type": "ZeroPadding2D", "padding": 1},
            {"type": "Conv2D", "filters": 128, "kernel_size": 4},
        ],
    )
    assert ours.output_shape == theirs.output_shape == (None, 11, 11, 128)
    assert ours.count_params() == theirs.count_params() == 71_840


def labels(report: Any) -> list[str]:
    """Every row's label, nested ones included, as the table writes them."""
    out: list[str] = []
    stack = list(reversed(report.layers))
    while stack:
        entry = stack.pop()
        out.append(written_label(report, entry))
        for _, children in reversed(entry.children):
            stack.extend(reversed(children))
    return out


def test_labels_are_keras_calls() -> None:
    """Leaves without a Keras rule of their own, and the steps inside a Keras layer, are
    labelled as Keras calls, not in PyTorch's words."""
    assert labels(analyse(load_spec("hw3-q3-keras"))) == [
        "Conv2D(32, 8, strides=2)",
        "MaxPooling2D(5)",
        "ZeroPadding2D(1)",
        "Conv2D(128, 4)",
    ]
    layers = [
        {"type": "ZeroPadding2D", "padding": [[1, 2], [0, 1]]},
        {"type": "Cropping2D", "cropping": 1},
        {"type": "Softmax"},
        {"type": "GlobalAveragePooling2D"},
        {"type": "Dropout", "rate": 0.5},
        {"type": "Reshape", "target_shape": [2, 2]},
        {"type": "LayerNormalization"},
        {"type": "Flatten"},
    ]
    assert labels(analyse(spec_of((8, 8, 4), layers))) == [
        "ZeroPadding2D(((1, 2), (0, 1)))",
        "Cropping2D(1)",
        "Softmax()",
        "GlobalAveragePooling2D()",
        "GlobalAveragePooling2D(keepdims=True)",
        "Flatten()",
        "Dropout(0.5)",
        "Reshape((2, 2))",
        "LayerNormalization()",
        "Permute((2, 1))",
        "LayerNormalization()",
        "Permute((2, 1))",
        "Flatten()",
    ]


def test_layer_normalization_permutes_match_keras_permute() -> None:
    """The permutes inside a LayerNormalization of a volume are labelled as the Keras Permute
    that turns the shape shown before into the shape shown after (Keras builds it)."""
    report = analyse(spec_of((6, 5, 3, 4), [{"type": "LayerNormalization"}]))
    assert report.dialect is not None
    steps = report.layers[0].children[0][1]
    for step in (steps[0], steps[2]):
        label = step.layer.call_label()
        assert label is not None and label.startswith("Permute(")
        dims = eval(label[len("Permute") :])  # the tuple written
        before = report.dialect.shape(step.input_shape)
        theirs = keras_build(before, [{"type": "Permute", "dims": dims}]).output_shape[1:]
        assert tuple(theirs) == report.dialect.shape(step.output_shape)
